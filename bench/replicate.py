"""Build the default policy replicated k times (rules renamed, thresholds shifted), for scaling runs."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from common import ROOT

DEFAULT = ROOT / "rules" / "couples-attendance" / "1.0.0.yaml"


def _shift(cond: Any, k: int) -> Any:
    if isinstance(cond, dict):
        out = {key: _shift(v, k) for key, v in cond.items()}
        if "param" in out:
            out["param"] = f"{out['param']}_{k}"
        return out
    if isinstance(cond, list):
        return [_shift(c, k) for c in cond]
    return cond


def replicated(k: int) -> dict[str, Any]:
    """The default policy with k copies of every rule; copy i reads parameters shifted by i."""
    base = yaml.safe_load(DEFAULT.read_text())
    data = copy.deepcopy(base)
    data["policy"] = "scaled"
    data["parameters"] = {f"{name}_{i}": value + i for i in range(k) for name, value in base["parameters"].items()}
    data["rules"] = []
    for i in range(k):
        for rule in base["rules"]:
            r = _shift(copy.deepcopy(rule), i)
            r["id"] = rule["id"].replace("CA-", f"CA{i}-")
            r["rationale"] = r["rationale"].replace("{param:", "{param:").replace("}", "}")
            for name in base["parameters"]:
                r["rationale"] = r["rationale"].replace(f"{{param:{name}}}", f"{{param:{name}_{i}}}")
            data["rules"].append(r)
    data.pop("must_decide", None)
    return data


def write_replicated(base: Path, k: int) -> Path:
    folder = base / "scaled"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "1.0.0.yaml"
    path.write_text(yaml.safe_dump(replicated(k), sort_keys=False))
    return path
