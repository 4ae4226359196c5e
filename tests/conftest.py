"""Fixtures shared by the engine tests, each built on the one before."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from engine import Engine, PolicySet, load_rules
from engine.policy.loader import load_policy
from support.policies import DEFAULT_POLICY, RULES

pytest_plugins = ("support.pg",)  # pg_cluster (a throwaway PostgreSQL, started on first use) and pg_url


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read the environment: no stray ATTENDANCE_POLICY_* may change a test."""
    for name in list(os.environ):
        if name.startswith("ATTENDANCE_POLICY_") and name != "ATTENDANCE_POLICY_SCHEMAS":
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def default_policy():
    return load_policy(DEFAULT_POLICY)


@pytest.fixture(scope="session")
def policy_set():
    ps = PolicySet.build(load_rules([RULES]), isolate=False)
    yield ps
    ps.close()


@pytest.fixture(scope="session")
def engine(policy_set):
    return Engine(policy_set, clock=lambda: dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC))


@pytest.fixture(scope="session")
def compiled_default(policy_set):
    return policy_set.resolve("couples-attendance", "1.0.0", dt.date(2026, 6, 1))
