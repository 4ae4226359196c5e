#!/usr/bin/env python3
"""Screenshots of the policy studio's main pages for docs/studio.md (docs/studio/*.png), from a live server.

Starts `attendance-policy serve` on a free loopback port over the bundled rules plus a changed 1.1.0
(support.studio.two_versions), drives the distribution's Chromium headless, and writes one PNG per page.
Run after `scripts/setup-tests`: `.venv/bin/python scripts/studio_screenshots.py [--out docs/studio]`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.live import serving  # noqa: E402
from support.service import ROOT  # noqa: E402
from support.studio import ABSENT_FOR_WORK, browser, two_versions  # noqa: E402

WIDTH = 1200
BROKEN = ("fact: clinical.safety_concern,", "fact: clinical.safety_concerns,")


def shots(base: str, out: Path) -> list[Path]:
    """Open each main page and save it; returns the files written."""
    written = []
    with browser() as chromium:
        page = chromium.new_page(viewport={"width": WIDTH, "height": 900})
        query = urllib.parse.urlencode({"policy": "couples-attendance", "version": "1.1.0", **ABSENT_FOR_WORK})
        pages = [("policies", "/studio/", None), ("version", "/studio/policies/couples-attendance/1.1.0", None),
                 ("try", f"/studio/try?{query}", "#decision-h"),
                 ("compare", "/studio/compare?policy=couples-attendance&old=1.0.0&new=1.1.0", "#impact-h")]
        for name, path, anchor in pages:
            page.goto(base + path)
            if anchor:
                page.locator(anchor).scroll_into_view_if_needed()
            written.append(_save(page, out / f"{name}.png", full=name == "policies"))
        page.goto(base + "/studio/draft?from=couples-attendance@1.0.0")
        text = page.locator("#draft").input_value().replace(*BROKEN)
        page.locator("#draft").fill(text)
        page.get_by_role("button", name="Check the draft").click()
        page.evaluate("document.getElementById('verdict-h').scrollIntoView()")
        written.append(_save(page, out / "draft.png", full=False))
    return written


def _save(page: object, path: Path, *, full: bool) -> Path:
    page.screenshot(path=str(path), full_page=full)  # type: ignore[attr-defined]
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "studio", help="folder of the PNGs")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        rules = two_versions(Path(tmp))
        with serving(Path(tmp) / "server", tokens={}, workers=1, rules=[rules]) as server:
            for path in shots(server.url, args.out):
                print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
