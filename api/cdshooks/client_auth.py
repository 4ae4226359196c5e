"""Who may call /cds-services: the EHR's bearer JWT (CDS Hooks 2.0.1, 'Trusting CDS Clients'), verified with PyJWT.

Only ES384 and RS384 are accepted (the specification recommends them; `none` and every HMAC algorithm are
forbidden, since a shared secret cannot identify a client). The key comes from the JWK Set configured for the
token's issuer, never from a URL the token names (`jku` must equal the configured one). `aud` must be this
service's public URL of the endpoint called; `exp`, `iat` and `jti` are required, and each `jti` is claimed
in the decision log's store, so a replay is refused by every worker and replica.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt

from api.config.settings import ROLES, is_loopback
from api.http.auth import Caller
from api.http.problems import Unauthenticated

__all__ = ["ALGORITHMS", "ClientAuth", "Issuer", "parse_issuers"]

ALGORITHMS = ("ES384", "RS384")
LEEWAY_S = 10  # clock skew allowed between the EHR and this service
REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "jti"]
ANONYMOUS = Caller("anonymous", frozenset(ROLES))
Claim = Callable[[str, int], bool]  # DecisionStore.claim_token


@dataclass(frozen=True)
class Issuer:
    """A trusted CDS client: its `iss` and where its public keys are (a JWK Set file or an https URL)."""

    iss: str
    jwks: str

    @property
    def is_url(self) -> bool:
        return "://" in self.jwks


def parse_issuers(entries: tuple[str, ...], base: Path) -> tuple[list[Issuer], list[str]]:
    """`<iss> <jwks>` entries -> Issuers, and a message per entry that is not one."""
    issuers: list[Issuer] = []
    errors: list[str] = []
    for i, entry in enumerate(entries):
        parts = entry.split()
        if len(parts) != 2:
            errors.append(f"[{i}]: {entry!r} is not `<iss> <JWKS file or https URL>`")
            continue
        iss, jwks = parts
        if "://" in jwks:
            url = urlsplit(jwks)
            if url.scheme != "https" and not (url.scheme == "http" and is_loopback(url.hostname or "")):
                errors.append(f"[{i}]: the JWKS URL {jwks!r} must be https (http only on loopback)")
                continue
        else:
            path = Path(jwks) if Path(jwks).is_absolute() else base / jwks
            if not path.is_file():
                errors.append(f"[{i}]: {path}: no such JWKS file")
                continue
            jwks = str(path)
        if any(x.iss == iss for x in issuers):
            errors.append(f"[{i}]: the issuer {iss!r} is listed twice")
            continue
        issuers.append(Issuer(iss, jwks))
    return issuers, errors


class _Keys:
    """One issuer's public keys by `kid`: a file read once, or a URL fetched and cached (refetched for a new kid)."""

    def __init__(self, issuer: Issuer) -> None:
        self.issuer = issuer
        self._client = jwt.PyJWKClient(issuer.jwks, cache_jwk_set=True, lifespan=300, timeout=5) \
            if issuer.is_url else None
        self._set = None if issuer.is_url else jwt.PyJWKSet.from_json(Path(issuer.jwks).read_text("utf-8"))

    def key(self, kid: str) -> jwt.PyJWK:
        try:
            if self._client is not None:
                return self._client.get_signing_key(kid)
            assert self._set is not None
            return self._set[kid]
        except KeyError:
            raise Unauthenticated(f"the issuer's JWK Set has no key {kid!r}") from None
        except jwt.PyJWKClientError as e:
            raise Unauthenticated(f"the issuer's JWK Set has no usable key {kid!r} ({e})") from e


class ClientAuth:
    """Maps an Authorization header on a /cds-services request to a Caller (Unauthenticated otherwise)."""

    def __init__(self, issuers: list[Issuer], *, base_url: str | None, lifetime_s: int, claim: Claim,
                 open_to: Callable[[str | None], bool]) -> None:
        self._keys = {i.iss: _Keys(i) for i in issuers}
        self._base = (base_url or "").rstrip("/")
        self._lifetime_s = lifetime_s
        self._claim = claim
        self._open_to = open_to  # without issuers: may this peer call anonymously?

    def authenticate(self, header: str | None, remote_addr: str | None, path: str) -> Caller:
        if not self._keys:
            if self._open_to(remote_addr):
                return ANONYMOUS
            raise Unauthenticated("no CDS client issuers are configured (`cds_hooks.issuers`), so only loopback "
                                  "callers of a server without API keys may call /cds-services")
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("send the CDS client's signed JWT as `Authorization: Bearer <JWT>`")
        claims = self._verify(token.strip(), self._base + path)
        return Caller(f"cds:{claims['iss']}", frozenset({"evaluate"}))

    def _verify(self, token: str, audience: str) -> dict[str, Any]:
        try:
            head = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as e:
            raise Unauthenticated(f"the bearer token is not a JWT ({e})") from e
        keys = self._issuer(head, unverified)
        key = keys.key(str(head["kid"]))
        # An RSA JWK without `alg` reads as RS256 in PyJWT; an EC one names its curve, so check the family.
        fits = key.key_type == "RSA" if head["alg"] == "RS384" else key.algorithm_name == "ES384"
        if not fits:
            raise Unauthenticated(f"the key {head['kid']!r} ({key.key_type}) cannot verify {head['alg']}")
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key.key, algorithms=[head["alg"]], audience=audience, issuer=keys.issuer.iss,
                leeway=LEEWAY_S, options={"require": REQUIRED_CLAIMS})
        except jwt.InvalidAudienceError:
            raise Unauthenticated(f"the JWT's aud is not this endpoint's URL {audience}") from None
        except jwt.PyJWTError as e:
            raise Unauthenticated(f"the JWT is not valid: {e}") from e
        self._fresh(claims)
        return claims

    def _issuer(self, head: dict[str, Any], unverified: dict[str, Any]) -> _Keys:
        alg = head.get("alg")
        if alg not in ALGORITHMS:
            raise Unauthenticated(f"alg {alg!r} is not accepted: sign with {' or '.join(ALGORITHMS)} "
                                  "(never none or HMAC)")
        if str(head.get("typ", "")).upper() != "JWT":
            raise Unauthenticated("the JWT header's typ must be JWT")
        if not isinstance(head.get("kid"), str) or not head["kid"]:
            raise Unauthenticated("the JWT header has no kid")
        keys = self._keys.get(unverified.get("iss"))  # type: ignore[arg-type]
        if keys is None:
            raise Unauthenticated(f"the issuer {unverified.get('iss')!r} is not a trusted CDS client")
        # The keys are never fetched from `jku`; with a configured URL, a different `jku` is not this issuer's.
        if keys.issuer.is_url and "jku" in head and head["jku"] != keys.issuer.jwks:
            raise Unauthenticated("the JWT's jku is not the JWK Set URL configured for its issuer")
        return keys

    def _fresh(self, claims: dict[str, Any]) -> None:
        exp, jti = claims["exp"], claims["jti"]
        if exp - time.time() > self._lifetime_s:
            raise Unauthenticated(f"the JWT's exp is more than {self._lifetime_s} s away; send short-lived tokens")
        if not isinstance(jti, str) or not jti:
            raise Unauthenticated("the JWT's jti must be a non-empty string")
        if not self._claim(f"{claims['iss']} {jti}", int((exp + LEEWAY_S) * 1_000_000)):
            raise Unauthenticated("the JWT's jti was used before: a replayed token is refused")
