"""A small iControl REST client: token login, re-login on 401, retries with backoff, LTM pools and
virtuals, static routes."""

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from f5sync.backoff import Backoff
from f5sync.metrics import Metrics
from f5sync.model import F5State, Member, ObjectKey, Pool, Route, Virtual

LOGIN_PATH = "/mgmt/shared/authn/login"
POOLS_PATH = "/mgmt/tm/ltm/pool"
VIRTUALS_PATH = "/mgmt/tm/ltm/virtual"
# Exposed Services are plain TCP: their virtuals use the appliance's fastL4 profile (the fast path),
# which the mock F5 forwards in the kernel.
FASTL4_PROFILE = "/Common/fastL4"
ROUTES_PATH = "/mgmt/tm/net/route"
# How BIG-IP writes the default routes' destinations.
NAMED_NETWORKS = {"default": "0.0.0.0/0", "default-inet6": "::/0"}

# Worth retrying: timeouts, throttling, a busy or restarting appliance, and 409 outside creates
# (BIG-IP answers 409 while another transaction holds the configuration).
RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
TOKEN_REFRESH_MARGIN_SECONDS = 60.0
# What a body unlike BIG-IP's raises while it is read: bad JSON, missing keys, wrong types.
MALFORMED_ANSWER_ERRORS = (ValueError, KeyError, TypeError, AttributeError)

T = TypeVar("T")


class F5Error(Exception):
    """The F5 could not be reached within the retry budget, or gave an answer f5-sync cannot use."""


class F5Refused(F5Error):
    """The F5 answered one call with an error that retrying at once would not change (a 4xx).

    It concerns that call's object, not the F5 as a whole, so the other objects can go ahead.
    """


@dataclass(frozen=True)
class Holdings:
    """What the F5 holds: our objects in full, and the names of everyone else's."""

    owned: F5State
    foreign_pools: frozenset[ObjectKey]
    foreign_virtuals: frozenset[ObjectKey]
    foreign_routes: frozenset[ObjectKey] = frozenset()


def object_path(collection: str, partition: str, name: str) -> str:
    return f"{collection}/~{partition}~{name}"


class IControlClient:
    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        verify_tls: bool,
        metrics: Metrics,
        attempts: int = 4,
        backoff: Backoff | None = None,
        timeout_seconds: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,  # httpx's own by default; tests give a scripted one
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), verify=verify_tls, timeout=timeout_seconds, transport=transport
        )
        self._credentials = {"username": username, "password": password, "loginProviderName": "tmos"}
        self._metrics = metrics
        self._attempts = attempts
        self._backoff = backoff or Backoff(base=0.1, cap=2.0)
        self._token: str | None = None
        self._token_expires_at = 0.0  # time.monotonic()
        self._login_lock = asyncio.Lock()  # concurrent calls share one login

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- reading --------------------------------------------------------------------------------
    async def holdings(self, description: str, *, routes: bool = False) -> Holdings:
        """All pools (members inline) and virtuals, and with `routes` the static routes, split by
        whether `description` marks them ours. The reads go out together."""
        calls = [
            self._call("list_pools", "GET", POOLS_PATH, params={"expandSubcollections": "true"}),
            self._call("list_virtuals", "GET", VIRTUALS_PATH),
        ]
        if routes:
            calls.append(self._call("list_routes", "GET", ROUTES_PATH))
        pools_response, virtuals_response, *routes_response = await asyncio.gather(*calls)
        return self._parsed(
            "read holdings",
            lambda: _holdings(
                description,
                pools_response.json(),
                virtuals_response.json(),
                routes_response[0].json() if routes_response else {},
            ),
        )

    # --- writing (each call is idempotent: "already exists" on create and "not found" on delete are success)
    async def create_pool(self, pool: Pool, description: str) -> None:
        body = {
            "name": pool.name,
            "partition": pool.partition,
            "description": description,
            "loadBalancingMode": "round-robin",
            "members": [_member_body(member) for member in sorted(pool.members)],
        }
        await self._call("create_pool", "POST", POOLS_PATH, json=body, tolerate=409)

    async def delete_pool(self, partition: str, name: str) -> None:
        await self._call("delete_pool", "DELETE", object_path(POOLS_PATH, partition, name), tolerate=404)

    async def add_member(self, partition: str, pool: str, member: Member) -> None:
        path = object_path(POOLS_PATH, partition, pool) + "/members"
        await self._call("add_member", "POST", path, json=_member_body(member), tolerate=409)

    async def remove_member(self, partition: str, pool: str, member: Member) -> None:
        path = object_path(object_path(POOLS_PATH, partition, pool) + "/members", partition, member.name)
        await self._call("remove_member", "DELETE", path, tolerate=404)

    async def create_virtual(self, virtual: Virtual, description: str) -> None:
        body = {
            "name": virtual.name,
            "partition": virtual.partition,
            "description": description,
            "destination": virtual.destination,
            "pool": virtual.pool_path,
            "ipProtocol": "tcp",
            "source": "0.0.0.0/0",
            "sourceAddressTranslation": {"type": "automap"},
            "profiles": [FASTL4_PROFILE],
        }
        await self._call("create_virtual", "POST", VIRTUALS_PATH, json=body, tolerate=409)

    async def update_virtual(self, virtual: Virtual) -> None:
        body = {"destination": virtual.destination, "pool": virtual.pool_path}
        await self._call(
            "update_virtual", "PATCH", object_path(VIRTUALS_PATH, virtual.partition, virtual.name), json=body
        )

    async def delete_virtual(self, partition: str, name: str) -> None:
        await self._call("delete_virtual", "DELETE", object_path(VIRTUALS_PATH, partition, name), tolerate=404)

    async def create_route(self, route: Route, description: str) -> None:
        body = {
            "name": route.name,
            "partition": route.partition,
            "description": description,
            "network": route.network,
            "gw": route.gw,
        }
        await self._call("create_route", "POST", ROUTES_PATH, json=body, tolerate=409)

    async def update_route(self, route: Route) -> None:
        body = {"network": route.network, "gw": route.gw}
        await self._call("update_route", "PATCH", object_path(ROUTES_PATH, route.partition, route.name), json=body)

    async def delete_route(self, partition: str, name: str) -> None:
        await self._call("delete_route", "DELETE", object_path(ROUTES_PATH, partition, name), tolerate=404)

    # --- transport ------------------------------------------------------------------------------
    async def _call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        tolerate: int | None = None,
    ) -> httpx.Response:
        """One logical call: retried with backoff on transport errors and retryable statuses,
        re-logged-in once on 401; raises F5Error when the budget is spent or the F5 refuses."""
        relogged_in = False
        attempt = 0
        while True:
            self._metrics.f5_calls.labels(operation).inc()
            try:
                token = await self._valid_token()
                response = await self._http.request(
                    method, path, json=json, params=params, headers={"X-F5-Auth-Token": token}
                )
            except httpx.TransportError as error:
                reason, detail = "transport", f"{type(error).__name__}: {error}"
            else:
                if response.status_code < 400 or response.status_code == tolerate:
                    return response
                reason, detail = f"http_{response.status_code}", _error_message(response)
                if response.status_code == 401 and not relogged_in:
                    # The token expired early or the F5 restarted and forgot it: log in again, once.
                    self._metrics.f5_errors.labels(reason).inc()
                    if self._token == token:  # unless a concurrent call already logged in again
                        self._token = None
                    relogged_in = True
                    continue
                if response.status_code not in RETRYABLE_STATUSES:
                    self._metrics.f5_errors.labels(reason).inc()
                    raise F5Refused(f"{operation}: {method} {path} answered {response.status_code}: {detail}")
            self._metrics.f5_errors.labels(reason).inc()
            attempt += 1
            if attempt >= self._attempts:
                raise F5Error(f"{operation}: {method} {path} failed {attempt} times, last: {detail}")
            await asyncio.sleep(self._backoff.delay(attempt))

    async def _valid_token(self) -> str:
        async with self._login_lock:
            if self._token is None or time.monotonic() > self._token_expires_at - TOKEN_REFRESH_MARGIN_SECONDS:
                response = await self._http.post(LOGIN_PATH, json=self._credentials)
                if response.status_code != 200:
                    self._metrics.f5_errors.labels(f"login_{response.status_code}").inc()
                    raise F5Error(f"login answered {response.status_code}: {_error_message(response)}")
                token, timeout = self._parsed("login", lambda: _token(response.json()))
                # A login the F5 granted: one that never reached it is a transport error of the call.
                self._metrics.f5_logins.inc()
                self._token = token
                self._token_expires_at = time.monotonic() + timeout
            return self._token

    def _parsed(self, operation: str, parse: Callable[[], T]) -> T:
        """`parse()`, with an answer unlike BIG-IP's turned into an F5Error (a failed pass, not a crash)."""
        try:
            return parse()
        except MALFORMED_ANSWER_ERRORS as error:
            self._metrics.f5_errors.labels("malformed").inc()
            raise F5Error(f"{operation}: malformed answer from the F5: {type(error).__name__}: {error}") from error


def _token(body: Any) -> tuple[str, float]:
    token = body["token"]
    return str(token["token"]), float(token.get("timeout", 1200))


def _holdings(description: str, pools_body: Any, virtuals_body: Any, routes_body: Any) -> Holdings:
    owned_pools: list[Pool] = []
    owned_virtuals: list[Virtual] = []
    owned_routes: list[Route] = []
    foreign_pools: set[ObjectKey] = set()
    foreign_virtuals: set[ObjectKey] = set()
    foreign_routes: set[ObjectKey] = set()
    for item in pools_body.get("items", []):
        if item.get("description") == description:
            owned_pools.append(_pool_from_item(item))
        else:
            foreign_pools.add((item["partition"], item["name"]))
    for item in virtuals_body.get("items", []):
        if item.get("description") == description:
            owned_virtuals.append(_virtual_from_item(item))
        else:
            foreign_virtuals.add((item["partition"], item["name"]))
    for item in routes_body.get("items", []):
        if item.get("description") == description:
            owned_routes.append(_route_from_item(item))
        else:
            foreign_routes.add((item["partition"], item["name"]))
    return Holdings(
        F5State.of(owned_pools, owned_virtuals, owned_routes),
        frozenset(foreign_pools),
        frozenset(foreign_virtuals),
        frozenset(foreign_routes),
    )


def _member_body(member: Member) -> dict[str, str]:
    return {"name": member.name, "address": member.address}


def _split_address_port(text: str) -> tuple[str, int]:
    """`10.0.0.1:80` or `fd00::1.80` (BIG-IP's IPv6 form), without any `%route-domain`."""
    address, _, port = text.rpartition("." if text.count(":") > 1 else ":")
    return address.split("%", 1)[0], int(port)


def _pool_from_item(item: dict[str, Any]) -> Pool:
    members = frozenset(
        Member(*_split_address_port(member["name"])) for member in item.get("membersReference", {}).get("items", [])
    )
    return Pool(partition=item["partition"], name=item["name"], members=members)


def _virtual_from_item(item: dict[str, Any]) -> Virtual:
    address, port = _split_address_port(item["destination"].rsplit("/", 1)[-1])
    return Virtual(
        partition=item["partition"],
        name=item["name"],
        address=address,
        port=port,
        pool=item.get("pool", "").rsplit("/", 1)[-1],
    )


def _route_from_item(item: dict[str, Any]) -> Route:
    network = str(item["network"])
    return Route(
        partition=item["partition"],
        name=item["name"],
        network=NAMED_NETWORKS.get(network, network),
        gw=str(item["gw"]).split("%", 1)[0],
    )


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    return str(body["message"]) if isinstance(body, dict) and "message" in body else response.text[:200]
