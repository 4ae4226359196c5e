"""API keys: bearer tokens checked against sha256 hashes, in constant time, then roles.

sha256 (not a slow password hash) is right here because every token is 256 bits
from `secrets` (`attendance-policy keys new`): nobody can guess or brute-force such
a token from its hash, while a deliberately slow hash would add ~100 ms to each
request. `keys hash` refuses short tokens, the one case where a fast hash would be weak.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, current_app, g, request

from api.config.settings import ROLES, ApiKey, is_loopback
from api.http.problems import Forbidden, Unauthenticated

__all__ = ["ANY_ROLE", "Caller", "KeyRing", "MIN_TOKEN_CHARS", "hash_token", "install", "new_token", "requires"]

ANY_ROLE = "*"
MIN_TOKEN_CHARS = 32
TOKEN_PREFIX = "apk_"
KEYS = "attendance_policy.keys"  # app.extensions key of the KeyRing callers are checked against
F = TypeVar("F", bound=Callable[..., Any])


def new_token() -> str:
    """A fresh API key: 256 random bits, URL-safe."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """What the configuration stores instead of the key."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Caller:
    key_id: str
    roles: frozenset[str]


ANONYMOUS = Caller("anonymous", frozenset(ROLES))


class KeyRing:
    """The configured keys; `authenticate` maps an Authorization header to a Caller."""

    def __init__(self, keys: Iterable[ApiKey], *, allow_remote_anonymous: bool = False) -> None:
        self._keys = [(bytes.fromhex(k.sha256), k) for k in keys]
        self._allow_remote_anonymous = allow_remote_anonymous

    def authenticate(self, header: str | None, remote_addr: str | None) -> Caller:
        if not self._keys:
            # Auth off is only for loopback (checked at start-up); refuse a remote peer anyway,
            # e.g. when a port was forwarded, unless the operator said a proxy authenticates.
            if self._allow_remote_anonymous or is_loopback(remote_addr or ""):
                return ANONYMOUS
            raise Unauthenticated("authentication is off on this server and only loopback clients may call it")
        if not header:
            raise Unauthenticated("send an API key as `Authorization: Bearer <key>`")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("the Authorization header must be `Bearer <key>`")
        key = self._match(token.strip())
        if key is None:
            raise Unauthenticated("the API key is not valid")
        return Caller(key.id, key.roles)

    def _match(self, token: str) -> ApiKey | None:
        digest = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
        found: ApiKey | None = None
        for stored, key in self._keys:
            # Compare with every key, no early exit: timing says nothing about which keys exist.
            if hmac.compare_digest(stored, digest):
                found = key
        return found


def requires(role: str) -> Callable[[F], F]:
    """Decorate a view: 401 without a valid key, 403 when the key lacks `role`."""

    def wrap(view: F) -> F:
        @functools.wraps(view)
        def inner(*args: Any, **kwargs: Any) -> Any:
            ring: KeyRing = current_app.extensions[KEYS]
            req = request._get_current_object()  # type: ignore[attr-defined]  # one proxy look-up, not two
            caller = ring.authenticate(req.headers.get("Authorization"), req.remote_addr)
            g.caller = caller
            if role != ANY_ROLE and role not in caller.roles:
                raise Forbidden(f"the key {caller.key_id!r} does not have the {role!r} role")
            return view(*args, **kwargs)

        return inner  # type: ignore[return-value]

    return wrap


def install(app: Flask, keys: KeyRing) -> None:
    """The key ring `requires` checks callers against in `app`."""
    app.extensions[KEYS] = keys
