"""Hostile policy files are refused by `attendance-policy validate` with a clear error, in bounded memory.

The cases and the measurement live in support/hostile_policies.py (scripts/hostile_policies.py
prints the figures in docs/reliability.md); here each case runs in its own child process and must
exit 1 with its expected problem code first, no traceback, and a peak RSS under a fixed
bound. No timing assertion: a child that hangs is killed by the script's timeout instead.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from support.hostile_policies import CASES, MARKER, Case, Result, baseline, run_case

PEAK_RSS_BOUND_MB = 250.0  # the bundled rules validate in ~40 MB; the worst hostile case needs ~140 MB


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    directory = tmp_path_factory.mktemp("hostile-policies")
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = list(pool.map(lambda c: run_case(c, directory), CASES))
    return {r.name: r for r in done}


def test_the_baseline_is_valid() -> None:
    result = baseline()
    assert result.exit_code == 0 and result.peak_rss_mb < PEAK_RSS_BOUND_MB


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_policy_is_refused_clearly_in_bounded_memory(results: dict[str, Result], case: Case) -> None:
    result = results[case.name]
    assert result.exit_code == 1, result
    assert not result.traceback, result
    assert f": {case.expect}:" in result.first_error, result.first_error
    assert len(result.first_error) < 300, result.first_error  # one readable line, whatever the input's size
    assert result.peak_rss_mb < PEAK_RSS_BOUND_MB, result


def test_no_python_tag_was_ever_executed(results: dict[str, Result]) -> None:
    assert results["python_tags"].exit_code == 1
    assert not (Path("/tmp") / MARKER).exists()


@pytest.mark.parametrize(("name", "headline"), [
    ("rules_100k_empty", "yaml_too_large: more than 60000 values: an alias bomb, or far more than a policy version "
                         "may hold (at $)"),  # counted while parsing (issue 15): 0.2 s, no node graph
    ("huge_string", "schema: `title` is too long: 900000 characters, at most 200 (at $.title)"),
    ("nesting_100k", "yaml_too_deep: nesting deeper than 64 levels (at $)"),
    ("enormous_file", "file_too_large: the file is larger than the limit of 1000000 bytes (at $)"),
    ("dev_zero", "file_too_large: the file is larger than the limit of 1000000 bytes (at $)"),
])
def test_regression_headlines(results: dict[str, Result], name: str, headline: str) -> None:
    """Regressions: these used to print 700,000 errors (100k empty rules: 20 s, 2.6 GB; then, up to issue 15, a
    schema error after composing all 100,000), a RecursionError
    traceback (deep nesting), or read the whole file into memory (2 GiB file, /dev/zero)."""
    assert results[name].first_error.endswith(headline), results[name].first_error
