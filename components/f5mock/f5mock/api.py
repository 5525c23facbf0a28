"""The iControl REST API: one route table drives both the aiohttp router and /openapi.json."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
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
from f5mock.kinds import KINDS, VIRTUAL, Kind
from f5mock.models import LoginBody, PoolRecord, TokenTimeoutBody
from f5mock.names import ObjectPath, parse_url_token
from f5mock.store import ConfigStore

Body = dict[str, Any] | None
Handler = Callable[[Kind[Any, Any], "Call"], Awaitable[Body]]  # one for every kind of object
BODY_TIMEOUT = 20.0  # seconds for a request body to arrive: a stalled one must not hold a handler
MAX_BODY = 1024 * 1024  # bytes of a configuration change's body
# A login is a user name and a password: a larger body is refused from its Content-Length, unread
# (a client must not make the mock read megabytes before it checks any credential).
MAX_LOGIN_BODY = 4096
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
    name: str = ""  # the operation's name in /openapi.json, when not the handler's
    max_body: int = MAX_BODY  # bytes; a larger body is refused with a 413 before it is read

    @property
    def operation(self) -> str:
        return self.name or self.handler.__name__

    @property
    def router_path(self) -> str:
        """The aiohttp pattern: one URL segment per variable, trailing slash tolerated."""
        return re.sub(r"\{(\w+)\}", r"{\1:[^/]+}", self.path) + "{trailing_slash:/?}"




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
        return [
            Route("GET", "/health", self.health, "Readiness: answers 200 once the mock serves; with credentials, "
                  "also what listens, routes and BGP", authenticated=False, user_optional=True),
            Route("GET", "/openapi.json", self.openapi, "This description", authenticated=False),
            Route("POST", "/mgmt/shared/authn/login", self.login, "Log in for a token", LoginBody, authenticated=False,
                  max_body=MAX_LOGIN_BODY),
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
            *(route for kind in KINDS for route in self._kind_routes(kind)),
            Route("GET", VIRTUAL.url_object + "/profiles", self.virtual_profiles, "A virtual server's profiles"),
        ]

    def _kind_routes(self, kind: Kind[Any, Any]) -> list[Route]:
        """The same calls for every kind of object, served by the same handlers."""
        collection, one = kind.url_collection, kind.url_object

        def route(method: str, path: str, handler: Handler, operation: str, name: str, **options: Any) -> Route:
            return Route(method, path, partial(handler, kind), kind.summary(operation), name=name, **options)

        routes = [
            route("GET", collection, self._list, "list", f"list_{kind.plural}", query=kind.list_query),
            route("POST", collection, self._create, "create", f"create_{kind.name}", body=kind.body),
            route("GET", one, self._get, "get", f"get_{kind.name}", query=kind.get_query),
            route("PUT", one, self._update, "update", f"update_{kind.name}", body=kind.body),
            route("PATCH", one, self._update, "update", f"update_{kind.name}", body=kind.body),
            route("DELETE", one, self._delete, "delete", f"delete_{kind.name}"),
        ]
        if kind.stats:
            routes.append(route("GET", f"{one}/stats", self._stats, "stats", f"{kind.name}_stats"))
        return routes

    def application(self) -> web.Application:
        app = web.Application(middlewares=[self._errors], client_max_size=MAX_BODY)
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
                        raw = await _read_body(request, route.max_body)
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

    # --- every kind of object ---------------------------------------------------------

    async def _list(self, kind: Kind[Any, Any], call: Call) -> Body:
        parent = self._parent(kind, call)
        records = self._view().records(kind, parent.path if parent is not None else None)
        if "$filter" in kind.list_query:  # a pool's members take no query: the parameter is ignored
            records = _filtered(records, call)
        return render.items(kind, self.plane, records, parent, expand=_flag(call.query, "expandSubcollections"))

    async def _create(self, kind: Kind[Any, Any], call: Call) -> Body:
        parent_path = _parent_path(kind, call)
        created = await self._change(
            lambda edit: edit.create(kind, call.body, parent_path), "create", kind, call, *_given(parent_path)
        )
        return render.item(kind, self.plane, created, self._parent(kind, call))

    async def _get(self, kind: Kind[Any, Any], call: Call) -> Body:
        found = self._view().find(kind, _path(call, kind.variable), _parent_path(kind, call))
        expand = _flag(call.query, "expandSubcollections")
        return render.item(kind, self.plane, found, self._parent(kind, call), expand=expand)

    async def _update(self, kind: Kind[Any, Any], call: Call) -> Body:
        path, parent_path = _path(call, kind.variable), _parent_path(kind, call)
        changed = await self._change(
            lambda edit: edit.update(kind, path, call.body, parent_path),
            "update", kind, call, *_given(parent_path), path,
        )
        return render.item(kind, self.plane, changed, self._parent(kind, call))

    async def _delete(self, kind: Kind[Any, Any], call: Call) -> Body:
        path, parent_path = _path(call, kind.variable), _parent_path(kind, call)
        await self._change(
            lambda edit: edit.delete(kind, path, parent_path), "delete", kind, call, *_given(parent_path), path
        )
        return None

    async def _stats(self, kind: Kind[Any, Any], call: Call) -> Body:
        await self.plane.read_kernel_counters()
        found = self._view().find(kind, _path(call, kind.variable), _parent_path(kind, call))
        return render.stats(kind, self.plane, found, self._parent(kind, call))

    async def virtual_profiles(self, call: Call) -> Body:
        return render.virtual_profiles(self._view().find(VIRTUAL, _path(call, VIRTUAL.variable)))

    # --- shared ----------------------------------------------------------------------------

    def _view(self) -> ConfigView:
        return ConfigView(self.plane.config)

    def _parent(self, kind: Kind[Any, Any], call: Call) -> PoolRecord | None:
        """A member's pool, as it is now."""
        parent_path = _parent_path(kind, call)
        return self._view().find(kind.parent, parent_path) if kind.parent and parent_path else None

    async def _change(
        self, edit: Callable[[ConfigEdit], Any], action: str, kind: Kind[Any, Any], call: Call, *paths: ObjectPath
    ) -> Any:
        names = [path.full_path for path in paths]
        if action == "create" and call.body.name:
            names.append(call.body.name)
        return await self.store.change(
            edit, action=action, kind=kind.event, target=" ".join(names), user=call.user or ""
        )


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


async def _read_body(request: web.Request, limit: int) -> bytes:
    """The body, refused with a 413 as soon as it is known to exceed `limit` (from its
    Content-Length before any of it is read; a chunked one once `limit` bytes have come)."""
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    body = bytearray()
    while chunk := await request.content.read(65536):
        body += chunk
        if len(body) > limit:
            raise _too_large(limit)
    return bytes(body)


def _too_large(limit: int) -> F5RestError:
    return F5RestError(413, f"The request body is larger than {limit} bytes.", api_error=1)


def _source(request: web.Request) -> str:
    return request.remote or "unknown"


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def _path(call: Call, variable: str) -> ObjectPath:
    return parse_url_token(call.params[variable])


def _parent_path(kind: Kind[Any, Any], call: Call) -> ObjectPath | None:
    return _path(call, kind.parent.variable) if kind.parent is not None else None


def _given(path: ObjectPath | None) -> tuple[ObjectPath, ...]:
    return (path,) if path is not None else ()


def _flag(query: dict[str, str], name: str) -> bool:
    return query.get(name, "").lower() == "true"


def _filtered(records: list[Any], call: Call) -> list[Any]:
    """`$filter=partition eq X` (the only filter clients send to these collections)."""
    expression = call.query.get("$filter")
    if expression is None:
        return records
    match = _PARTITION_FILTER.match(expression)
    if match is None:
        raise F5RestError(400, f"Query parameter $filter is not supported: {expression}.", api_error=1)
    return [record for record in records if record.partition == match.group(1)]
