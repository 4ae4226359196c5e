"""Every rule cites sections of the clinical source that docs/clinical-basis.md has, by their exact titles."""

from __future__ import annotations

import re

import pytest

from engine.policy.loader import load_rules
from support.policies import ROOT, RULES

BASIS = ROOT / "docs" / "clinical-basis.md"


def _sections() -> set[str]:
    """Every `## Title` and `### Title`, and each `Title, Subtitle` pair the doc nests."""
    found: set[str] = set()
    parent = ""
    for line in BASIS.read_text(encoding="utf-8").splitlines():
        if m := re.fullmatch(r"## (.+)", line):
            parent = m.group(1)
            found.add(parent)
        elif m := re.fullmatch(r"### (.+)", line):
            found |= {m.group(1), f"{parent}, {m.group(1)}"}
    return found


def _cited() -> list[tuple[str, str, str]]:
    return [(rule.id, part, policy.key) for policy in load_rules([RULES]) for rule in policy.rules
            for part in rule.source.split("; ")]


@pytest.mark.parametrize(("rule", "section", "policy"), _cited())
def test_the_cited_section_is_in_the_clinical_basis(rule, section, policy):
    assert section in _sections(), f"{policy} {rule} cites {section!r}, which docs/clinical-basis.md has no heading for"


def test_the_check_would_catch_a_wrong_title():
    assert "Flexible Approaches to Couples Therapy, 2. As-Needed Participation" in _sections()
    assert "Flexible Approaches to Couples Therapy, 9. Not A Section" not in _sections()
    assert "FAQ 6" not in _sections()


def test_no_product_file_points_outside_the_repository():
    product = [p for d in ("engine", "api", "rules", "schemas", "docs", "examples", "scripts", "bench")
               for p in (ROOT / d).rglob("*") if p.is_file() and p.suffix in {".py", ".yaml", ".json", ".md", ".toml"}]
    product += [ROOT / "README.md", ROOT / "pyproject.toml"]
    assert len(product) > 50
    offenders = [str(p.relative_to(ROOT)) for p in product if re.search(r"\.\./shared|shared/domain", p.read_text())]
    assert offenders == []
