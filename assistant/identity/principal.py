"""Identity from verified credentials only, shared by every surface (API, shopper app, console).

A shopper is anonymous until a customer token signed by the shop's backend says who they are
(PyJWT: signature, expiry, audience, a bounded lifetime); the customer id is its `sub`, never a
request body or a form field. Operators hold API keys with a role. Only an agent or admin may
name a customer explicitly, and `customer_for` says so in one place for every surface.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from assistant.errors import Forbidden, ShopassistError

if TYPE_CHECKING:
    from assistant.config import APISettings

Role = Literal["anonymous", "customer", "storefront", "agent", "admin"]
OPERATOR_ROLES = frozenset({"agent", "admin"})


def is_loopback(host: str | None) -> bool:
    """Whether a client (or a bind) address is this machine: the "local operator" of every surface."""
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return host == "localhost"


class Unauthorized(ShopassistError):
    """No valid credential (a wrong key, a bad or expired token)."""

    status = 401
    exit_code = 4
    kind = "unauthorized"


@dataclass(frozen=True)
class Principal:
    role: Role
    name: str
    customer_id: str | None = None  # only from a verified customer token
    client: str | None = None

    @property
    def is_operator(self) -> bool:
        return self.role in OPERATOR_ROLES


class KeyRing:
    """The configured API keys, compared in constant time as bytes (any header bytes are safe)."""

    def __init__(self, settings: APISettings) -> None:
        self._keys = [(k.key.encode("utf-8"), k.role, k.name or k.role) for k in settings.api_keys()]

    def __bool__(self) -> bool:
        return bool(self._keys)

    def match(self, token: bytes) -> tuple[Role, str] | None:
        found = None
        for key, role, name in self._keys:
            if hmac.compare_digest(token, key):  # no early exit: every key is compared
                found = (role, name)
        return found


class CustomerTokens:
    """Verifies the shop backend's customer tokens (JWT); `None` settings means none are accepted."""

    def __init__(self, settings: APISettings) -> None:
        self.settings = settings
        key: str | None = settings.jwt_secret
        if settings.jwt_public_key is not None:
            key = Path(settings.jwt_public_key).expanduser().read_text(encoding="utf-8")
        self._key = key

    @property
    def enabled(self) -> bool:
        return self._key is not None

    def verify(self, token: str) -> str:
        """The customer id of a valid token; `Unauthorized` with the reason otherwise."""
        import jwt

        if self._key is None:
            raise Unauthorized(
                "customer tokens are not accepted here: set api.jwt_secret or api.jwt_public_key"
            )
        s = self.settings
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=s.jwt_algorithms,
                audience=s.jwt_audience,
                issuer=s.jwt_issuer,
                options={"require": ["exp", "iat", "sub", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized(
                "the customer token has expired: ask the shop's backend for a new one"
            ) from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid customer token ({exc})") from exc
        if float(claims["exp"]) - float(claims["iat"]) > s.jwt_max_age_s:
            raise Unauthorized(f"customer tokens may live at most {s.jwt_max_age_s} s (api.jwt_max_age_s)")
        subject = str(claims["sub"]).strip()
        if not subject:
            raise Unauthorized("the customer token has an empty 'sub'")
        return subject


def customer_for(principal: Principal, named: str | None) -> str | None:
    """Whose data this request may read: the token's customer for shoppers; the named one for operators.

    A shopper-facing caller that names a customer (other than the one its token is for) is refused,
    not silently corrected, so a client bug or an attack is visible.
    """
    named = (named or "").strip() or None
    if principal.is_operator:
        return named
    if named is not None and named != principal.customer_id:
        raise Forbidden(
            "customer_id cannot be chosen by this caller: the signed-in customer comes from the customer "
            "token (X-Customer-Token) the shop's backend issues; only agent or admin keys may name a customer"
        )
    return principal.customer_id


def require_operator(principal: Principal, what: str) -> None:
    if not principal.is_operator:
        raise Forbidden(f"{what} is for the shop's staff: use an API key with role 'agent' or 'admin'")
