"""The API's front door, as plain ASGI middleware so nothing is read before the caller is known.

Order per request: the client address (X-Forwarded-For believed only from `api.trusted_proxies`,
and uvicorn's own proxy-header rewriting is off), a rate limit per address (refused requests
count too), the credential (API key with a role, or a customer token), a rate limit per
credential, then the body-size limit (Content-Length checked up front, streamed bodies counted).
Only then does FastAPI parse the body. Every refusal uses the API's one error shape. Rate limits
use the `limits` library (moving window, in memory: per replica).
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from assistant.api.protocol import error_response
from assistant.errors import Forbidden, ShopassistError
from assistant.identity.principal import CustomerTokens, KeyRing, Principal, Unauthorized, is_loopback

if TYPE_CHECKING:
    from assistant.config import APISettings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

OPEN_PATHS = ("/healthz", "/livez", "/readyz")
DOC_PATHS = ("/docs", "/redoc", "/openapi.json")
SHOP_PREFIX = "/ui"  # the shopper app: public storefront (identity from the customer token only)
CONSOLE_PREFIX = "/console"  # the operator console: its own login (agent/admin key), see ui.console
WIDGET_PATHS = ("/widget.js", "/static")  # the storefront widget: a script tag sends no key


class Guard:
    def __init__(self, app: ASGIApp, settings: APISettings) -> None:
        from limits import parse
        from limits.storage import MemoryStorage
        from limits.strategies import MovingWindowRateLimiter

        self.app = app
        self.settings = settings
        self.keys = KeyRing(settings)
        self.tokens = CustomerTokens(settings)
        self.trusted = [ipaddress.ip_network(p, strict=False) for p in settings.trusted_proxies]
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.per_credential = parse(settings.rate_limit)
        self.per_address = parse(settings.rate_limit_per_address)

    # -- ASGI ------------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):  # lifespan
            await self.app(scope, receive, send)
            return
        headers: dict[bytes, bytes] = {}
        for name, value in scope.get("headers", []):
            headers.setdefault(name.lower(), value)
        client = self.client_address(scope, headers)
        if scope["type"] == "websocket":  # the same door; refused sockets are closed (policy violation)
            try:
                scope.setdefault("state", {})["principal"] = self.authenticate(scope["path"], headers, client)
            except ShopassistError:
                await send({"type": "websocket.close", "code": 1008})
                return
            await self.app(scope, receive, send)
            return
        counted = _counted(scope["path"])
        if counted and not self.limiter.hit(self.per_address, "address", client):
            await self._refuse(
                scope,
                receive,
                send,
                429,
                "too many requests from this address",
                "rate_limited",
                self._retry_after(self.per_address, "address", client),
            )
            return
        try:
            principal = self.authenticate(scope["path"], headers, client)
        except ShopassistError as exc:
            await self._refuse(scope, receive, send, exc.status, str(exc), exc.kind)
            return
        if (
            counted
            and principal.role != "anonymous"
            and not self.limiter.hit(self.per_credential, "credential", principal.name)
        ):
            await self._refuse(
                scope,
                receive,
                send,
                429,
                "too many requests for this credential",
                "rate_limited",
                self._retry_after(self.per_credential, "credential", principal.name),
            )
            return
        limit = self.settings.max_body_bytes
        length = headers.get(b"content-length", b"")
        scope.setdefault("state", {})["principal"] = principal
        too_large = length.isdigit() and int(length) > limit
        if not too_large and not length.isdigit() and scope.get("method") in ("POST", "PUT", "PATCH"):
            # A streamed body (no Content-Length) is read here, at most `limit` bytes, then replayed.
            body = await _read_bounded(receive, limit)
            too_large = body is None
            if body is not None:
                receive = _replay(body, receive)
        if too_large:
            message = f"the request body is larger than {limit} bytes (api.max_body_bytes)"
            await self._refuse(scope, receive, send, 413, message, "body_too_large")
            return
        await self.app(scope, receive, send)

    # -- who ---------------------------------------------------------------------------------------
    def client_address(self, scope: Scope, headers: dict[bytes, bytes]) -> str:
        peer = (scope.get("client") or ("", 0))[0] or ""
        if not self.trusted or not self._is_trusted(peer):
            return peer
        hops = [
            h.strip() for h in headers.get(b"x-forwarded-for", b"").decode("latin-1").split(",") if h.strip()
        ]
        for hop in reversed(hops):  # the nearest hop not ours is the client
            if not self._is_trusted(hop):
                return hop
        return peer

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.trusted)

    def authenticate(self, path: str, headers: dict[bytes, bytes], client: str) -> Principal:
        """The caller, or an error saying which credential is missing; the body is not read."""
        auth = headers.get(b"authorization", b"")
        bearer = auth[7:].strip() if auth[:7].lower() == b"bearer " else b""
        principal: Principal | None = None
        if bearer:
            matched = self.keys.match(bearer)
            if matched:
                principal = Principal(role=matched[0], name=matched[1], client=client)
            elif self.tokens.enabled and bearer.count(b".") == 2:  # a customer token as the only credential
                customer = self.tokens.verify(_ascii(bearer))
                return Principal(
                    role="customer", name=f"customer:{customer}", customer_id=customer, client=client
                )
            elif not self.keys and is_loopback(client):
                pass  # no keys: this machine is the operator; OpenAI SDKs always send some key
            else:
                raise Unauthorized(
                    "missing or wrong API key: send 'Authorization: Bearer KEY' with a key from api.keys"
                )
        customer_token = headers.get(b"x-customer-token", b"").strip()
        if principal is not None:
            if customer_token and principal.role == "storefront":
                customer = self.tokens.verify(_ascii(customer_token))
                principal = Principal(
                    role="storefront", name=principal.name, customer_id=customer, client=client
                )
            return self._admit(path, principal)
        if customer_token and self.tokens.enabled:
            customer = self.tokens.verify(_ascii(customer_token))
            return self._admit(
                path,
                Principal(role="customer", name=f"customer:{customer}", customer_id=customer, client=client),
            )
        return self._admit(path, self._without_credential(path, client))

    def _without_credential(self, path: str, client: str) -> Principal:
        anonymous = Principal(role="anonymous", name=f"address:{client}", client=client)
        if path in OPEN_PATHS:
            return anonymous
        local = is_loopback(client)
        if not self.keys:
            if local:  # no keys: this machine is the operator (make run, a local shell)
                return Principal(role="admin", name="local", client=client)
            raise Forbidden(
                "remote access is off: set api.keys (SHOPASSIST_API__KEYS) and send 'Authorization: Bearer KEY'"
            )
        if local and self.settings.local_without_key:
            return Principal(role="admin", name="local", client=client)
        if (
            _under(path, SHOP_PREFIX)
            or _under(path, CONSOLE_PREFIX)
            or any(_under(path, p) for p in WIDGET_PATHS)
        ):
            return anonymous  # public storefront page and widget; the console has its own login
        if (path in DOC_PATHS and self.settings.public_docs) or (
            path == "/metrics" and self.settings.public_metrics
        ):
            return anonymous
        raise Unauthorized("missing API key: send 'Authorization: Bearer KEY' with a key from api.keys")

    def _admit(self, path: str, principal: Principal) -> Principal:
        operator_only = (path in DOC_PATHS and not self.settings.public_docs) or (
            path == "/metrics" and not self.settings.public_metrics
        )
        if operator_only and not principal.is_operator and principal.role != "anonymous":
            raise Forbidden(f"{path} is for the shop's staff: use an API key with role 'agent' or 'admin'")
        return principal

    # -- refusals ----------------------------------------------------------------------------------
    def _retry_after(self, limit: Any, *keys: str) -> int:
        stats = self.limiter.get_window_stats(limit, *keys)
        return max(1, int(stats.reset_time - time.time()) + 1)

    @staticmethod
    async def _refuse(
        scope: Scope,
        receive: Receive,
        send: Send,
        status: int,
        message: str,
        kind: str,
        retry_after: int | None = None,
    ) -> None:
        response = error_response(status, message, kind)  # the API's one error shape
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        await response(scope, receive, send)


def _counted(path: str) -> bool:
    """Paths that do work (the API, the apps' calls and logins), which the rate limits count; the
    apps' static files are not counted, so loading a page never uses up a shopper's budget."""
    return path.startswith("/v1/") or "/gradio_api/" in path or path.endswith("/login") or path in DOC_PATHS


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def _ascii(token: bytes) -> str:
    try:
        return token.decode("ascii")
    except UnicodeDecodeError as exc:
        raise Unauthorized("malformed credential: tokens are ASCII") from exc


async def _read_bounded(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None as soon as it passes `limit` (the rest is never buffered)."""
    chunks, seen = [], 0
    while True:
        message = await receive()
        if message.get("type") != "http.request":
            break
        chunk = message.get("body", b"")
        seen += len(chunk)
        if seen > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, then: Receive) -> Receive:
    """The buffered body first, then the connection's own messages (e.g. a disconnect mid-stream)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return await then()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
