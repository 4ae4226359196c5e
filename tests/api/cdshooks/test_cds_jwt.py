"""CDS client JWTs (api/cdshooks/client_auth.py): the cases the specification names, against real keys and JWK Sets."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from flask import Flask

from api.config.loader import ConfigError
from support.cdsclient import BASE_URL, ISSUER, Ehr, SigningKey, jwks, token
from support.live import HOST

SPEC = Path(__file__).parent / "spec"
SERVICE = "/cds-services/couples-attendance"


def _discover(app: Flask, bearer: str | None) -> Any:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer is not None else {}
    return Ehr(app.test_client(), headers=headers).discover()


AUD = BASE_URL + "/cds-services"


def test_a_valid_es384_token_is_accepted(trusted: Flask, es384: SigningKey) -> None:
    assert _discover(trusted, token(es384, AUD)).status_code == 200


def test_aud_may_be_a_list(trusted: Flask, es384: SigningKey) -> None:
    assert _discover(trusted, token(es384, [AUD, "https://other.example"])).status_code == 200  # type: ignore[arg-type]


def _none_token() -> str:
    def part(d: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")
    return f"{part({'alg': 'none', 'typ': 'JWT', 'kid': 'k'})}.{part({'iss': ISSUER, 'aud': AUD, 'exp': 2**31, 'iat': 0, 'jti': 'x'})}."


def _hmac_token() -> str:
    return jwt.encode({"iss": ISSUER, "aud": AUD, "exp": 2**31, "iat": 0, "jti": "h"}, "s" * 64,
                      algorithm="HS384", headers={"kid": "k", "typ": "JWT"})


@pytest.mark.parametrize(("make", "detail"), [
    (lambda k: token(k, AUD, lifetime=-120), "the JWT is not valid: Signature has expired"),
    (lambda k: token(k, BASE_URL + "/cds-services/other"), "the JWT's aud is not this endpoint's URL"),
    (lambda k: token(k, "https://cds.example.org.evil/cds-services"), "the JWT's aud is not this endpoint's URL"),
    (lambda k: token(k, AUD, iss="https://unknown-ehr.example/"), "the issuer 'https://unknown-ehr.example/' is not a trusted"),
    (lambda k: _none_token(), "alg 'none' is not accepted: sign with ES384 or RS384 (never none or HMAC)"),
    (lambda k: _hmac_token(), "alg 'HS384' is not accepted"),
    (lambda k: token(SigningKey.new("ES384", kid=k.kid), AUD), "Signature verification failed"),
    (lambda k: token(k, AUD, headers={"kid": "rotated-away"}), "the issuer's JWK Set has no key 'rotated-away'"),
    (lambda k: token(k, AUD, headers={"typ": "at+jwt"}), "the JWT header's typ must be JWT"),
    (lambda k: token(k, AUD, lifetime=3600), "the JWT's exp is more than 300 s away"),
    (lambda k: token(k, AUD, iat=__import__("time").time() + 600, lifetime=-300), "not yet valid (iat)"),
    (lambda k: jwt.encode({"iss": ISSUER, "aud": AUD, "exp": 2**31}, k.private, algorithm="ES384",
                          headers={"kid": k.kid, "typ": "JWT"}), 'Token is missing the "iat" claim'),
    (lambda k: "not-a-jwt", "the bearer token is not a JWT"),
], ids=["expired", "wrong-audience", "lookalike-audience", "unknown-issuer", "alg-none", "hmac", "wrong-key",
        "unknown-kid", "wrong-typ", "too-long-lived", "issued-in-the-future", "no-iat-no-jti", "garbage"])
def test_tokens_the_service_refuses(trusted: Flask, es384: SigningKey, make: Callable[[SigningKey], str],
                                    detail: str) -> None:
    resp = _discover(trusted, make(es384))
    assert resp.status_code == 401
    assert detail in resp.json["detail"]
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_no_token_at_all(trusted: Flask) -> None:
    resp = _discover(trusted, None)
    assert (resp.status_code, resp.json["code"]) == (401, "unauthenticated")


def test_a_replayed_jti_is_refused(trusted: Flask, es384: SigningKey) -> None:
    once = token(es384, AUD)
    assert _discover(trusted, once).status_code == 200
    again = _discover(trusted, once)
    assert (again.status_code, again.json["detail"]) == (401, "the JWT's jti was used before: a replayed token is refused")
    assert _discover(trusted, token(es384, AUD)).status_code == 200  # a new jti is fine


def test_a_replay_to_another_worker_is_refused(tmp_path: Path, es384: SigningKey, make_app: Callable[..., Flask]) -> None:
    (tmp_path / "k.json").write_text(json.dumps(jwks(es384)))
    config = {"cds_hooks": {"issuers": [f"{ISSUER} {tmp_path / 'k.json'}"], "base_url": BASE_URL},
              "decision_log": {"path": str(tmp_path / "shared.sqlite3")}}
    one, two = make_app(config), make_app(config)  # two workers, one decision log
    once = token(es384, AUD)
    assert _discover(one, once).status_code == 200
    assert _discover(two, once).status_code == 401


class _JwksServer(BaseHTTPRequestHandler):
    body = b"{}"
    fetched = 0

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        type(self).fetched += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def jwks_url() -> Iterator[tuple[str, type[_JwksServer]]]:
    handler = type("Handler", (_JwksServer,), {})
    server = ThreadingHTTPServer((HOST, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://{HOST}:{server.server_address[1]}/jwks.json", handler
    server.shutdown()
    server.server_close()


def test_rs384_keys_from_a_jwks_url(jwks_url: tuple[str, type[_JwksServer]], make_app: Callable[..., Flask]) -> None:
    url, handler = jwks_url
    rs384 = SigningKey.new("RS384")
    handler.body = json.dumps(jwks(rs384)).encode()
    app = make_app({"cds_hooks": {"issuers": [f"{ISSUER} {url}"], "base_url": BASE_URL}})
    assert _discover(app, token(rs384, AUD, headers={"jku": url})).status_code == 200
    assert _discover(app, token(rs384, AUD)).status_code == 200
    assert handler.fetched == 1  # the JWK Set is cached
    other = _discover(app, token(rs384, AUD, headers={"jku": "https://attacker.example/jwks.json"}))
    assert (other.status_code, other.json["detail"]) == (
        401, "the JWT's jku is not the JWK Set URL configured for its issuer")
    es = SigningKey.new("ES384", kid=rs384.kid)
    assert _discover(app, token(es, AUD)).status_code == 401  # an ES384 token for an RSA key


def test_the_specifications_example_token(make_app: Callable[..., Flask]) -> None:
    """The spec's ES384 token verifies against the spec's JWK Set, and is refused because it expired in 2015."""
    payload = json.loads((SPEC / "jwt-payload.json").read_text())
    app = make_app({"cds_hooks": {"issuers": [f"{payload['iss']} {SPEC / 'jwt-jwks.json'}"],
                                  "base_url": "https://cds.example.org"}})
    spec_token = (SPEC / "jwt-token.txt").read_text().strip()
    client = Ehr(app.test_client(), headers={"Authorization": f"Bearer {spec_token}"})
    resp = client.call("some-service", {"hook": "patient-view", "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
                                        "context": {"patientId": "1288992"}})
    assert (resp.status_code, resp.json["detail"]) == (401, "the JWT is not valid: Signature has expired")
    head, body, sig = spec_token.split(".")
    forged = base64.urlsafe_b64encode(json.dumps({**payload, "exp": 2**31}).encode()).decode().rstrip("=")
    client.headers["Authorization"] = f"Bearer {head}.{forged}.{sig}"
    resp = client.call("some-service", {"hook": "patient-view", "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
                                        "context": {"patientId": "1288992"}})
    assert (resp.status_code, resp.json["detail"]) == (401, "the JWT is not valid: Signature verification failed")


@pytest.mark.parametrize(("keys", "remote", "status"), [
    (False, "127.0.0.1", 200),
    (False, "10.1.2.3", 401),
    (True, "127.0.0.1", 401),
], ids=["loopback-open", "remote-refused", "api-keys-configured"])
def test_without_issuers_like_the_api_without_keys(make_app: Callable[..., Flask], keys: bool, remote: str,
                                                    status: int) -> None:
    client = make_app(keys=keys).test_client()
    resp = Ehr(client).client.get("/cds-services", environ_base={"REMOTE_ADDR": remote})
    assert resp.status_code == status


@pytest.mark.parametrize(("config", "message"), [
    ({"issuers": ["https://ehr.example/"]}, "[0]: 'https://ehr.example/' is not `<iss> <JWKS file or https URL>` "
                                          "(at cds_hooks.issuers)"),
    ({"issuers": ["https://ehr.example/ http://ehr.example/jwks"]}, "must be https (http only on loopback)"),
    ({"issuers": ["https://ehr.example/ /nonexistent/jwks.json"]}, "/nonexistent/jwks.json: no such JWKS file"),
    ({"issuers": ["https://ehr.example/ https://ehr.example/jwks"]}, "is required with cds_hooks.issuers: a JWT's aud is this URL plus the path called (at cds_hooks.base_url)"),
])
def test_bad_issuer_settings_stop_the_start(make_app: Callable[..., Flask], config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as e:
        make_app({"cds_hooks": config})
    assert message in str(e.value)
