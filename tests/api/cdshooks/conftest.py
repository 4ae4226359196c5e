"""Fixtures for the CDS Hooks tests: an EHR's signing key, a service that trusts it, the EHR client."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

from support.cdsclient import BASE_URL, ISSUER, Ehr, SigningKey, jwks


@pytest.fixture(scope="session")
def es384() -> SigningKey:
    return SigningKey.new("ES384")


@pytest.fixture
def trusted(tmp_path: Path, es384: SigningKey, make_app: Callable[..., Flask]) -> Flask:
    """A service with API keys that trusts one EHR (its JWK Set in a file)."""
    (tmp_path / "ehr-jwks.json").write_text(json.dumps(jwks(es384)))
    return make_app({"cds_hooks": {"issuers": [f"{ISSUER} {tmp_path / 'ehr-jwks.json'}"], "base_url": BASE_URL}})


@pytest.fixture
def ehr(trusted: Flask, es384: SigningKey) -> Ehr:
    return Ehr(trusted.test_client(), es384)
