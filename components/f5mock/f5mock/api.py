"""The iControl REST API: one route table drives both the aiohttp router and /openapi.json."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from f5mock import render
from f5mock.auth import Authenticator
from f5mock.bgp import BgpListener
from f5mock.config import ConfigEdit, ConfigView
from f5mock.dataplane import DataPlane
from f5mock.errors import F5RestError, invalid_json
from f5mock.events import log_event
from f5mock.models import (
    LoginBody,
    MemberBody,
    NodeBody,
    PoolBody,
    RouteBody,
    TcpProfileBody,
    TokenTimeoutBody,
    VirtualBody,
)
from f5mock.names import ObjectPath, parse_url_token
from f5mock.store import ConfigStore

Body = dict[str, Any] | None
_PARTITION_FILTER = re.compile(r"^\s*partition\s+eq\s+([A-Za-z0-9_.-]+)\s*$")


@dataclass
class Call:
    """What a handler gets: the URL's variables, the query, the validated body, the user."""

    params: dict[str, str]
    query: dict[str, str]
    body: Any
    user: str | None
    source: str  # the client's address


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # OpenAPI template: /mgmt/tm/ltm/pool/{pool}
    handler: Callable[[Call], Awaitable[Body]]
    summary: str
    body: type[BaseModel] | None = None
    authenticated: bool = True
    # Open to anyone, with more for a user whose credentials come along (wrong ones are refused).
    user_optional: bool = False
    query: tuple[str, ...] = field(default=())

    @property
    def router_path(self) -> str:
        """The aiohttp pattern: one URL segment per variable, trailing slash tolerated."""
        return re.sub(r"\{(\w+)\}", r"{\1:[^/]+}", self.path) + "{trailing_slash:/?}"


COLLECTION_QUERY = ("expandSubcollections", "$filter")
BODY_TIMEOUT = 20.0  # seconds for a request body to arrive: a stalled one must not hold a handler


class F5Api:
    def __init__(
        self, store: ConfigStore, plane: DataPlane, authenticator: Authenticator, bgp: BgpListener | None = None
    ) -> None:
        self.store = store
        self.plane = plane
        self.auth = authenticator
        self.bgp = bgp

    # --- the route table ----------------------------------------------------------------

    def routes(self) -> list[Route]:
        pool, member, node, virtual, profile, route = (
            "/mgmt/tm/ltm/pool/{pool}",
            "/mgmt/tm/ltm/pool/{pool}/members/{member}",
            "/mgmt/tm/ltm/node/{node}",
            "/mgmt/tm/ltm/virtual/{virtual}",
            "/mgmt/tm/ltm/profile/tcp/{profile}",
            "/mgmt/tm/net/route/{route}",
        )
        return [
            Route("GET", "/health", self.health, "Readiness: answers 200 once the mock serves; with credentials, "
                  "also what listens, routes and BGP", authenticated=False, user_optional=True),
            Route("GET", "/openapi.json", self.openapi, "This description", authenticated=False),
            Route("POST", "/mgmt/shared/authn/login", self.login, "Log in for a token", LoginBody, authenticated=False),
            Route("GET", "/mgmt/shared/authz/tokens/{token}", self.get_token, "Read a token"),
            Route(
                "PATCH",
                "/mgmt/shared/authz/tokens/{token}",
                self.extend_token,
                "Change a token's timeout",
                TokenTimeoutBody,
            ),
            Route("DELETE", "/mgmt/shared/authz/tokens/{token}", self.delete_token, "Revoke a token"),
            Route("GET", "/mgmt/shared/echo-query", self.echo, "Connectivity check"),
            Route("GET", "/mgmt/tm/sys", self.sys, "System collection (its selfLink carries ?ver=)"),
            Route("GET", "/mgmt/tm/sys/version", self.version, "Software version"),
            Route("GET", "/mgmt/tm/ltm/pool", self.list_pools, "List pools", query=COLLECTION_QUERY),
            Route("POST", "/mgmt/tm/ltm/pool", self.create_pool, "Create a pool", PoolBody),
            Route("GET", pool, self.get_pool, "Read a pool", query=("expandSubcollections",)),
            Route("PUT", pool, self.update_pool, "Change a pool", PoolBody),
            Route("PATCH", pool, self.update_pool, "Change a pool", PoolBody),
            Route("DELETE", pool, self.delete_pool, "Delete a pool"),
            Route("GET", pool + "/stats", self.pool_stats, "Pool counters"),
            Route("GET", pool + "/members", self.list_members, "List a pool's members"),
            Route("POST", pool + "/members", self.create_member, "Add a member (creates its node)", MemberBody),
            Route("GET", member, self.get_member, "Read a member"),
            Route("PUT", member, self.update_member, "Change a member", MemberBody),
            Route("PATCH", member, self.update_member, "Change a member", MemberBody),
            Route("DELETE", member, self.delete_member, "Remove a member"),
            Route("GET", member + "/stats", self.member_stats, "Member counters"),
            Route("GET", "/mgmt/tm/ltm/node", self.list_nodes, "List nodes", query=COLLECTION_QUERY),
            Route("POST", "/mgmt/tm/ltm/node", self.create_node, "Create a node", NodeBody),
            Route("GET", node, self.get_node, "Read a node"),
            Route("PUT", node, self.update_node, "Change a node", NodeBody),
            Route("PATCH", node, self.update_node, "Change a node", NodeBody),
            Route("DELETE", node, self.delete_node, "Delete a node"),
            Route("GET", node + "/stats", self.node_stats, "Node counters"),
            Route("GET", "/mgmt/tm/ltm/virtual", self.list_virtuals, "List virtual servers", query=COLLECTION_QUERY),
            Route("POST", "/mgmt/tm/ltm/virtual", self.create_virtual, "Create a virtual server", VirtualBody),
            Route("GET", virtual, self.get_virtual, "Read a virtual server"),
            Route("PUT", virtual, self.update_virtual, "Change a virtual server", VirtualBody),
            Route("PATCH", virtual, self.update_virtual, "Change a virtual server", VirtualBody),
            Route("DELETE", virtual, self.delete_virtual, "Delete a virtual server"),
            Route("GET", virtual + "/stats", self.virtual_stats, "Virtual server counters"),
            Route("GET", virtual + "/profiles", self.virtual_profiles, "A virtual server's profiles"),
            Route("GET", "/mgmt/tm/ltm/profile/tcp", self.list_tcp_profiles, "List TCP profiles", query=("$filter",)),
            Route("POST", "/mgmt/tm/ltm/profile/tcp", self.create_tcp_profile, "Create a TCP profile", TcpProfileBody),
            Route("GET", profile, self.get_tcp_profile, "Read a TCP profile"),
            Route("PUT", profile, self.update_tcp_profile, "Change a TCP profile (idleTimeout)", TcpProfileBody),
            Route("PATCH", profile, self.update_tcp_profile, "Change a TCP profile (idleTimeout)", TcpProfileBody),
            Route("DELETE", profile, self.delete_tcp_profile, "Delete a TCP profile"),
            Route("GET", "/mgmt/tm/net/route", self.list_routes, "List static routes", query=("$filter",)),
            Route("POST", "/mgmt/tm/net/route", self.create_route, "Create a static route", RouteBody),
            Route("GET", route, self.get_route, "Read a static route"),
            Route("PUT", route, self.update_route, "Change a static route", RouteBody),
            Route("PATCH", route, self.update_route, "Change a static route", RouteBody),
            Route("DELETE", route, self.delete_route, "Delete a static route"),
        ]

    def application(self) -> web.Application:
        app = web.Application(middlewares=[self._errors], client_max_size=1024 * 1024)
        for route in self.routes():
            app.router.add_route(route.method, route.router_path, self._endpoint(route))
        return app

    def _endpoint(self, route: Route) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def endpoint(request: web.Request) -> web.Response:
            sent = "X-F5-Auth-Token" in request.headers or "Authorization" in request.headers
            user = (await self.auth.authenticate(request.headers, _source(request))
                    if route.authenticated or (route.user_optional and sent) else None)
            body = None
            if route.body is not None:
                try:
                    async with asyncio.timeout(BODY_TIMEOUT):
                        raw = await request.read()
                except TimeoutError:
                    raise F5RestError(408, "The request body was not received in time.", api_error=1) from None
                body = _validated(route.body, raw, request.path)
            params = {k: v for k, v in request.match_info.items() if k != "trailing_slash"}
            answer = await route.handler(Call(params, dict(request.query), body, user, _source(request)))
            if answer is None:
                return web.Response(status=200)
            return web.json_response(answer, dumps=_dumps)

        return endpoint

    @web.middleware
    async def _errors(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            return await handler(request)
        except F5RestError as error:
            return web.json_response(error.body, status=error.status, dumps=_dumps)
        except web.HTTPNotFound:
            status, message = 404, f"Public URI path not registered: {request.path}"
        except web.HTTPMethodNotAllowed:
            status, message = 405, f"Method {request.method} is not supported on {request.path}."
        except web.HTTPRequestEntityTooLarge:
            status, message = 413, "The request body is too large."
        except Exception as error:  # a bug: answer BIG-IP-style, and leave a trace
            log_event("internal-error", logging.ERROR, method=request.method, path=request.path, error=repr(error))
            status, message = 500, f"Internal error: {error!r}"
        try:
            await self.auth.authenticate(request.headers, _source(request))  # BIG-IP checks them before routing
        except F5RestError as error:
            return web.json_response(error.body, status=401, dumps=_dumps)
        return web.json_response(F5RestError(status, message, api_error=1).body, status=status, dumps=_dumps)

    # --- service endpoints --------------------------------------------------------------

    async def health(self, call: Call) -> Body:
        """Status for anyone (container probes); the configuration's state only for a user."""
        if call.user is None:
            return {"status": "ok", "version": render.VERSION}
        return {
            "status": "ok",
            "version": render.VERSION,
            "virtualsListening": sorted(self.plane.listeners),
            "virtualsNotListening": self.plane.unbound,
            "generation": self.plane.config.generation,
            "routesNotInstalled": self.store.routes_not_installed,
            # Read-only: BIG-IP lists only static routes under /mgmt/tm/net/route, so learned ones are shown here.
            **({"bgp": {**self.bgp.view(), "routesNotInstalled": self.store.learned_not_installed}} if self.bgp else {}),
        }

    async def openapi(self, call: Call) -> Body:
        from f5mock.openapi import document

        return document(self.routes())

    async def login(self, call: Call) -> Body:
        body: LoginBody = call.body
        token = await self.auth.login(body.username, body.password, call.source)
        log_event("login", user=body.username)
        return {
            "username": body.username,
            "loginReference": {"link": "https://localhost/mgmt/cm/system/authn/providers/tmos/login"},
            "loginProviderName": body.loginProviderName or "tmos",
            "token": token.body(),
            "generation": 0,
            "lastUpdateMicros": 0,
        }

    async def get_token(self, call: Call) -> Body:
        return self.auth.token(call.params["token"]).body()

    async def extend_token(self, call: Call) -> Body:
        return self.auth.extend(call.params["token"], call.body.timeout).body()

    async def delete_token(self, call: Call) -> Body:
        return self.auth.revoke(call.params["token"]).body()

    async def echo(self, call: Call) -> Body:
        return {"kind": "shared:echo-query:echorequeststate", "selfLink": "https://localhost/mgmt/shared/echo-query"}

    async def sys(self, call: Call) -> Body:
        items = [{"reference": {"link": render.link("/mgmt/tm/sys/version")}}]
        return {"kind": "tm:sys:syscollectionstate", "selfLink": render.link("/mgmt/tm/sys"), "items": items}

    async def version(self, call: Call) -> Body:
        entries = {
            "Build": {"description": render.BUILD},
            "Date": {"description": "Mon Jan 1 00:00:00 UTC 2024"},
            "Edition": {"description": "Final"},
            "Product": {"description": "BIG-IP"},
            "Title": {"description": "Main Package"},
            "Version": {"description": render.VERSION},
        }
        return {
            "kind": "tm:sys:version:versionstats",
            "selfLink": render.link("/mgmt/tm/sys/version"),
            "entries": {"https://localhost/mgmt/tm/sys/version/0": {"nestedStats": {"entries": entries}}},
        }

    # --- pools and members ---------------------------------------------------------------

    async def list_pools(self, call: Call) -> Body:
        expand = _flag(call.query, "expandSubcollections")
        items = [render.pool(self.plane, p, expand=expand) for p in _filtered(self.plane.config.pools, call)]
        return render.collection("tm:ltm:pool:poolcollectionstate", "/mgmt/tm/ltm/pool", items)

    async def create_pool(self, call: Call) -> Body:
        created = await self._change(lambda edit: edit.create_pool(call.body), "create", "pool", call)
        return render.pool(self.plane, created)

    async def get_pool(self, call: Call) -> Body:
        found = self._view().pool(_path(call, "pool"))
        return render.pool(self.plane, found, expand=_flag(call.query, "expandSubcollections"))

    async def update_pool(self, call: Call) -> Body:
        path = _path(call, "pool")
        changed = await self._change(lambda edit: edit.update_pool(path, call.body), "update", "pool", call, path)
        return render.pool(self.plane, changed)

    async def delete_pool(self, call: Call) -> Body:
        path = _path(call, "pool")
        await self._change(lambda edit: edit.delete_pool(path), "delete", "pool", call, path)
        return None

    async def pool_stats(self, call: Call) -> Body:
        return render.pool_stats(self.plane, self._view().pool(_path(call, "pool")))

    async def list_members(self, call: Call) -> Body:
        return render.members_collection(self.plane, self._view().pool(_path(call, "pool")))

    async def create_member(self, call: Call) -> Body:
        pool_path = _path(call, "pool")
        created = await self._change(
            lambda edit: edit.create_member(pool_path, call.body), "create", "member", call, pool_path
        )
        return render.member(self.plane, self.plane.config.pools[pool_path.full_path], created)

    async def get_member(self, call: Call) -> Body:
        pool_path, member_path = _path(call, "pool"), _path(call, "member")
        found = self._view().member(pool_path, member_path)
        return render.member(self.plane, self.plane.config.pools[pool_path.full_path], found)

    async def update_member(self, call: Call) -> Body:
        pool_path, member_path = _path(call, "pool"), _path(call, "member")
        changed = await self._change(
            lambda edit: edit.update_member(pool_path, member_path, call.body),
            "update",
            "member",
            call,
            pool_path,
            member_path,
        )
        return render.member(self.plane, self.plane.config.pools[pool_path.full_path], changed)

    async def delete_member(self, call: Call) -> Body:
        pool_path, member_path = _path(call, "pool"), _path(call, "member")
        await self._change(
            lambda edit: edit.delete_member(pool_path, member_path), "delete", "member", call, pool_path, member_path
        )
        return None

    async def member_stats(self, call: Call) -> Body:
        pool_path, member_path = _path(call, "pool"), _path(call, "member")
        found = self._view().member(pool_path, member_path)
        return render.member_stats(self.plane, self.plane.config.pools[pool_path.full_path], found)

    # --- nodes ---------------------------------------------------------------------------

    async def list_nodes(self, call: Call) -> Body:
        items = [render.node(n) for n in _filtered(self.plane.config.nodes, call)]
        return render.collection("tm:ltm:node:nodecollectionstate", "/mgmt/tm/ltm/node", items)

    async def create_node(self, call: Call) -> Body:
        return render.node(await self._change(lambda edit: edit.create_node(call.body), "create", "node", call))

    async def get_node(self, call: Call) -> Body:
        return render.node(self._view().node(_path(call, "node")))

    async def update_node(self, call: Call) -> Body:
        path = _path(call, "node")
        return render.node(
            await self._change(lambda edit: edit.update_node(path, call.body), "update", "node", call, path)
        )

    async def delete_node(self, call: Call) -> Body:
        path = _path(call, "node")
        await self._change(lambda edit: edit.delete_node(path), "delete", "node", call, path)
        return None

    async def node_stats(self, call: Call) -> Body:
        return render.node_stats(self.plane, self._view().node(_path(call, "node")))

    # --- virtual servers -----------------------------------------------------------------

    async def list_virtuals(self, call: Call) -> Body:
        items = [render.virtual(v) for v in _filtered(self.plane.config.virtuals, call)]
        return render.collection("tm:ltm:virtual:virtualcollectionstate", "/mgmt/tm/ltm/virtual", items)

    async def create_virtual(self, call: Call) -> Body:
        return render.virtual(
            await self._change(lambda edit: edit.create_virtual(call.body), "create", "virtual", call)
        )

    async def get_virtual(self, call: Call) -> Body:
        return render.virtual(self._view().virtual(_path(call, "virtual")))

    async def update_virtual(self, call: Call) -> Body:
        path = _path(call, "virtual")
        return render.virtual(
            await self._change(lambda edit: edit.update_virtual(path, call.body), "update", "virtual", call, path)
        )

    async def delete_virtual(self, call: Call) -> Body:
        path = _path(call, "virtual")
        await self._change(lambda edit: edit.delete_virtual(path), "delete", "virtual", call, path)
        return None

    async def virtual_stats(self, call: Call) -> Body:
        return render.virtual_stats(self.plane, self._view().virtual(_path(call, "virtual")))

    async def virtual_profiles(self, call: Call) -> Body:
        return render.virtual_profiles(self._view().virtual(_path(call, "virtual")))

    # --- TCP profiles ----------------------------------------------------------------------

    async def list_tcp_profiles(self, call: Call) -> Body:
        profiles = {p.path.full_path: p for p in self._view().tcp_profiles()}
        items = [render.tcp_profile(p) for p in _filtered(profiles, call)]
        return render.collection("tm:ltm:profile:tcp:tcpcollectionstate", "/mgmt/tm/ltm/profile/tcp", items)

    async def create_tcp_profile(self, call: Call) -> Body:
        return render.tcp_profile(
            await self._change(lambda edit: edit.create_tcp_profile(call.body), "create", "tcp-profile", call)
        )

    async def get_tcp_profile(self, call: Call) -> Body:
        return render.tcp_profile(self._view().tcp_profile(_path(call, "profile")))

    async def update_tcp_profile(self, call: Call) -> Body:
        path = _path(call, "profile")
        return render.tcp_profile(
            await self._change(
                lambda edit: edit.update_tcp_profile(path, call.body), "update", "tcp-profile", call, path
            )
        )

    async def delete_tcp_profile(self, call: Call) -> Body:
        path = _path(call, "profile")
        await self._change(lambda edit: edit.delete_tcp_profile(path), "delete", "tcp-profile", call, path)
        return None

    # --- static routes -------------------------------------------------------------------

    async def list_routes(self, call: Call) -> Body:
        items = [render.route(r) for r in _filtered(self.plane.config.routes, call)]
        return render.collection("tm:net:route:routecollectionstate", "/mgmt/tm/net/route", items)

    async def create_route(self, call: Call) -> Body:
        return render.route(await self._change(lambda edit: edit.create_route(call.body), "create", "route", call))

    async def get_route(self, call: Call) -> Body:
        return render.route(self._view().route(_path(call, "route")))

    async def update_route(self, call: Call) -> Body:
        path = _path(call, "route")
        return render.route(
            await self._change(lambda edit: edit.update_route(path, call.body), "update", "route", call, path)
        )

    async def delete_route(self, call: Call) -> Body:
        path = _path(call, "route")
        await self._change(lambda edit: edit.delete_route(path), "delete", "route", call, path)
        return None

    # --- shared ----------------------------------------------------------------------------

    def _view(self) -> ConfigView:
        return ConfigView(self.plane.config)

    async def _change(
        self, edit: Callable[[ConfigEdit], Any], action: str, kind: str, call: Call, *paths: ObjectPath
    ) -> Any:
        names = [path.full_path for path in paths]
        if action == "create" and call.body.name:
            names.append(call.body.name)
        return await self.store.change(edit, action=action, kind=kind, target=" ".join(names), user=call.user or "")


def _validated(model: type[BaseModel], raw: bytes, path: str) -> BaseModel:
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise invalid_json() from None
    if not isinstance(data, dict):
        raise invalid_json()
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problem = error.errors()[0]
        location = ".".join(str(part) for part in problem["loc"])
        if problem["type"] == "extra_forbidden":
            item = path.removeprefix("/mgmt/tm").removeprefix("/mgmt")
            raise F5RestError(
                400,
                f'Found unexpected json pair at configuration item {item}: "{location}":{_dumps(problem["input"])}.',
                api_error=1,
            ) from None
        if problem["type"] == "missing":
            raise F5RestError(400, f"01070734:3: Configuration error: {location} is required.") from None
        raise F5RestError(400, f"01070734:3: Configuration error: invalid {location}: {problem['msg']}.") from None


def _source(request: web.Request) -> str:
    return request.remote or "unknown"


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def _path(call: Call, variable: str) -> ObjectPath:
    return parse_url_token(call.params[variable])


def _flag(query: dict[str, str], name: str) -> bool:
    return query.get(name, "").lower() == "true"


def _filtered(records: dict[str, Any], call: Call) -> list[Any]:
    """`$filter=partition eq X` (the only filter clients send to these collections)."""
    expression = call.query.get("$filter")
    if expression is None:
        return list(records.values())
    match = _PARTITION_FILTER.match(expression)
    if match is None:
        raise F5RestError(400, f"Query parameter $filter is not supported: {expression}.", api_error=1)
    return [record for record in records.values() if record.partition == match.group(1)]
