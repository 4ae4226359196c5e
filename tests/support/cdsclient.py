"""An EHR-like CDS Hooks client for the tests: signing keys and JWK Sets, signed JWTs, hook calls, feedback.

Every answer is validated against the CDS Hooks schemas in schemas/cds-hooks/ (and problem documents against
schemas/problem.schema.json) before a test sees it, so no test can pass on a response the spec forbids.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator

from engine.core.schemas import FORMAT_CHECKER, load_schema

ROOT = Path(__file__).resolve().parents[2]
FHIR = ROOT / "tests" / "api" / "cdshooks" / "fhir"
SESSION_ATTENDANCE = "org.attendance-policy.session-attendance"
ISSUER = "https://ehr.example.org/"
BASE_URL = "https://cds.example.org"


def fhir(name: str) -> Any:
    """A FHIR JSON example from tests/api/cdshooks/fhir/."""
    return json.loads((FHIR / f"{name}.json").read_text(encoding="utf-8"))


def validate(schema: str, body: Any, ref: str = "") -> None:
    """Raise unless `body` matches `schemas/<schema>.schema.json` (its `$defs/<ref>` when given)."""
    doc = load_schema(schema)
    if ref:
        doc = {"$schema": doc["$schema"], "$defs": doc["$defs"], "$ref": f"#/$defs/{ref}"}
    errors = list(Draft202012Validator(doc, format_checker=FORMAT_CHECKER).iter_errors(body))
    assert not errors, f"{schema}: " + "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


@dataclass
class SigningKey:
    """A CDS client's key pair, with its public JWK."""

    alg: str
    kid: str
    private: Any = field(repr=False)

    @classmethod
    def new(cls, alg: str = "ES384", kid: str | None = None) -> SigningKey:
        private = ec.generate_private_key(ec.SECP384R1()) if alg == "ES384" else \
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(alg, kid or f"{alg.lower()}-{uuid.uuid4().hex[:8]}", private)

    def jwk(self) -> dict[str, Any]:
        algorithm = jwt.algorithms.ECAlgorithm if self.alg == "ES384" else jwt.algorithms.RSAAlgorithm
        out: dict[str, Any] = json.loads(algorithm.to_jwk(self.private.public_key()))
        return {**out, "kid": self.kid, "use": "sig", "alg": self.alg}


def jwks(*keys: SigningKey) -> dict[str, Any]:
    return {"keys": [k.jwk() for k in keys]}


def token(key: SigningKey, aud: str, *, iss: str = ISSUER, lifetime: int = 60, iat: float | None = None,
          jti: str | None = None, headers: dict[str, Any] | None = None, **claims: Any) -> str:
    """A CDS client JWT as the specification describes it (alg, typ JWT, kid; iss, aud, exp, iat, jti)."""
    now = time.time() if iat is None else iat
    payload = {"iss": iss, "aud": aud, "exp": int(now + lifetime), "iat": int(now), "jti": jti or str(uuid.uuid4()),
               **claims}
    return jwt.encode(payload, key.private, algorithm=key.alg, headers={"typ": "JWT", "kid": key.kid, **(headers or {})})


def hook_request(hook: str, context: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"hook": hook, "hookInstance": str(uuid.uuid4()), "context": context, **extra}


@dataclass
class Ehr:
    """Calls a CDS service as an EHR would; `key` set: with a fresh signed JWT per call."""

    client: FlaskClient
    key: SigningKey | None = None
    base_url: str = BASE_URL
    headers: dict[str, str] = field(default_factory=dict)

    def _auth(self, path: str) -> dict[str, str]:
        if self.key is None:
            return dict(self.headers)
        return {"Authorization": f"Bearer {token(self.key, self.base_url + path)}", **self.headers}

    def _check(self, resp: Any, schema: str, ref: str = "") -> Any:
        if resp.status_code == 200:
            validate(schema, resp.json, ref)
        elif resp.status_code >= 400:
            assert resp.mimetype == "application/problem+json", resp.data
            validate("problem", resp.json)
        return resp

    def discover(self) -> Any:
        return self._check(self.client.get("/cds-services", headers=self._auth("/cds-services")),
                           "cds-hooks/discovery")

    def call(self, service: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        path = f"/cds-services/{service}"
        validate("cds-hooks/request", body)
        return self._check(self.client.post(path, json=body, headers={**self._auth(path), **(headers or {})}),
                           "cds-hooks/response")

    def feedback(self, service: str, items: list[dict[str, Any]]) -> Any:
        path = f"/cds-services/{service}/feedback"
        body = {"feedback": items}
        validate("cds-hooks/feedback", body)
        return self._check(self.client.post(path, json=body, headers=self._auth(path)), "cds-hooks/feedback",
                           "receipt")
