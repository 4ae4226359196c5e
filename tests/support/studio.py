"""The policy studio in a real browser: a rules directory with two versions, headless Chromium, axe-core.

Used by tests/studio/ and scripts/studio_screenshots.py. Chromium is the distribution's package (a
browser download is not possible here); axe-core is the npm package pinned in tools/studio/.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from support.lifecycle import version_text
from support.service import ROOT, RULES

__all__ = ["AXE_JS", "CHROMIUM", "CHROMIUM_ARGS", "ABSENT_FOR_WORK", "axe_violations", "browser", "serious",
           "two_versions"]

CHROMIUM = "/usr/bin/chromium"
# Headless on a closed network: without the background-networking flags Chromium's own connections are refused.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
AXE_JS = ROOT / "tools" / "studio" / "node_modules" / "axe-core" / "axe.min.js"
POLICY = "couples-attendance"
# 1.1.0 stops offering flexible scheduling for an absence for work (caregiving and scheduling still get it).
CHANGE = ("value: [scheduling_conflict, work, caregiving]", "value: [scheduling_conflict, caregiving]")
# The scenario "one partner absent for work" of rules/couples-attendance/tests/absence.yaml, as form values.
ABSENT_FOR_WORK = {"session.id": "t-abs-02", "session.type": "couples", "attendance.partners_present": "1",
                   "attendance.absence_reason": "work"}


def two_versions(directory: Path) -> Path:
    """A copy of the bundled rules with a 1.1.0 (in effect from February 2026) that changes one rule."""
    rules = directory / "rules"
    shutil.copytree(RULES, rules)
    text = version_text("1.1.0")
    assert CHANGE[0] in text
    (rules / POLICY / "1.1.0.yaml").write_text(text.replace(*CHANGE), encoding="utf-8")
    return rules


@contextmanager
def browser() -> Iterator[Any]:
    """A headless Chromium (Playwright), closed on leaving."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Run axe-core on the page as it is now; its violations (id, impact, help, the nodes' targets)."""
    page.evaluate(AXE_JS.read_text(encoding="utf-8"))  # evaluated by the driver: the page's CSP does not apply
    result = page.evaluate("async () => JSON.stringify((await axe.run(document)).violations)")
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "targets": [n["target"] for n in v["nodes"]][:5]} for v in json.loads(result)]


def serious(violations: list[dict[str, Any]], allowed: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The violations of serious or critical impact, less those `allowed` explains (rule id -> why)."""
    return [v for v in violations if v["impact"] in ("serious", "critical") and v["id"] not in (allowed or {})]
