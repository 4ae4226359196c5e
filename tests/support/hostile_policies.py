"""Hostile policy files and their measurement under `attendance-policy validate`: shared by
tests/reliability/test_hostile_policies.py and scripts/hostile_policies.py (which prints the figures).

Each case is written to a directory, validated by the real CLI (`engine.cli.main`) in a
child process, and measured: exit status (1: invalid), the first error line, wall time and
the child's peak RSS (its own VmHWM, read at exit: wait4's ru_maxrss would include the
parent's memory at fork). The bundled rules are measured the same way as a baseline.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from support.service import ROOT, RULES

HEAD = {
    "version": "1.0.0", "effective_from": "2026-01-01", "title": "Hostile", "owner": "Nobody",
    "changelog": [{"version": "1.0.0", "changes": "hostile"}], "parameters": {"limit": 3},
    "recommendations": {"rec_a": {"title": "A", "indicator": "info", "category": "attendance", "text": "a"}},
}
RULE = {"id": "R-001", "title": "t", "priority": 1, "then": "rec_a", "rationale": "r", "source": "s",
        "when": {"fact": "attendance.partners_present", "op": "eq", "value": 1}}
MARKER = "attendance-policy-pwned"


def _head(policy: str) -> str:
    return yaml.safe_dump({"policy": policy, **HEAD}, sort_keys=False)


def alias_bomb(policy: str) -> str:
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 10)]
    body = "\n".join("  " + line for line in lines)
    return _head(policy).replace("parameters:\n  limit: 3\n", f"parameters:\n  limit: 3\n{body}\n") + \
        "rules:\n" + yaml.safe_dump([RULE], sort_keys=False)


def python_tags(policy: str) -> str:
    return _head(policy) + "rules:\n" + yaml.safe_dump([RULE], sort_keys=False).replace(
        "title: t", f'title: !!python/object/apply:os.system ["touch /tmp/{MARKER}"]').replace(
        "source: s", "source: !!python/name:os.system")


def rules_100k_empty(policy: str) -> str:
    return _head(policy) + "rules:\n" + "- {}\n" * 100_000


def rules_100k_aliases(policy: str) -> str:
    rule = yaml.safe_dump(RULE, default_flow_style=True, width=10_000).strip()
    return _head(policy) + f"rules:\n- &r {rule}\n" + "- *r\n" * 99_999


def rules_100k_distinct(policy: str) -> str:
    rules = [{**RULE, "id": f"R-{i:06d}"} for i in range(100_000)]
    return _head(policy) + "rules:\n" + "".join(f"- {json.dumps(r)}\n" for r in rules)


def _nested(depth: int) -> str:
    leaf = json.dumps(RULE["when"])
    rule = {k: v for k, v in RULE.items() if k != "when"}
    return json.dumps(rule)[:-1] + ', "when": ' + '{"not": ' * depth + leaf + "}" * depth + "}"


def nesting_100k(policy: str) -> str:
    return _head(policy) + "rules:\n- " + _nested(100_000) + "\n"


def nesting_60(policy: str) -> str:
    return _head(policy) + "rules:\n- " + _nested(60) + "\n"


def huge_string(policy: str) -> str:
    return _head(policy).replace("title: Hostile", "title: " + "x" * 900_000) + "rules:\n" + \
        yaml.safe_dump([RULE], sort_keys=False)


def many_parameters(policy: str) -> str:
    params = "".join(f"  p{i}: {i}\n" for i in range(20_000))
    return _head(policy).replace("parameters:\n  limit: 3\n", "parameters:\n  limit: 3\n" + params) + \
        "rules:\n" + yaml.safe_dump([RULE], sort_keys=False)


def too_complex(policy: str) -> str:
    when = {"fact": "history.consecutive_joint_sessions_missed", "op": "in", "value": list(range(60))}
    rules = [{**RULE, "id": f"R-{i:03d}", "when": when} for i in range(250)]
    return _head(policy) + "rules:\n" + "".join(f"- {json.dumps(r)}\n" for r in rules)


@dataclass
class Case:
    name: str
    what: str
    expect: str  # the problem code the first error line must carry
    build: Callable[[str], str] | None = None


CASES = [
    Case("alias_bomb", "billion laughs: 10^9 'lol' through 9 levels of aliases", "yaml_too_large", alias_bomb),
    Case("python_tags", "!!python/object/apply:os.system and !!python/name tags", "yaml_tag", python_tags),
    Case("rules_100k_empty", "100,000 empty rules (500 KB)", "yaml_too_large", rules_100k_empty),
    Case("rules_100k_aliases", "100,000 rules as aliases of one (500 KB)", "yaml_too_large", rules_100k_aliases),
    Case("rules_100k_distinct", "100,000 distinct rules (15 MB)", "file_too_large", rules_100k_distinct),
    Case("nesting_100k", "a condition nested 100,000 levels deep (flow style, 900 KB)", "yaml_too_deep",
         nesting_100k),
    Case("nesting_60", "a condition nested 60 levels deep", "too_deep", nesting_60),
    Case("huge_string", "a 900 KB title", "schema", huge_string),
    Case("many_parameters", "20,000 parameters", "schema", many_parameters),
    Case("too_complex", "250 rules of 60 alternatives each", "too_complex", too_complex),
    Case("enormous_file", "a 2 GiB file (sparse)", "file_too_large"),
    Case("dev_zero", "/dev/zero given as a policy file", "file_too_large"),
]


@dataclass
class Result:
    name: str
    what: str
    exit_code: int
    first_error: str
    seconds: float
    peak_rss_mb: float
    traceback: bool
    expected: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 1 and f": {self.expected}:" in self.first_error and not self.traceback


_CHILD = """
import atexit, sys
def _peak():
    with open("/proc/self/status") as fh:
        kb = next(line.split()[1] for line in fh if line.startswith("VmHWM:"))
    with open(sys.argv.pop(), "w") as out:
        out.write(kb)
atexit.register(_peak)
from engine.cli.main import main
sys.argv[0] = "attendance-policy"
sys.exit(main(sys.argv[1:-1]))
"""


def validate(target: str, timeout: float = 120.0) -> tuple[int, str, float, float]:
    """(exit code, stderr, seconds, peak RSS in MB) of `attendance-policy validate target` in a child."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        peak = Path(tmp) / "peak"
        proc = subprocess.run([sys.executable, "-c", _CHILD, "validate", target, str(peak)], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout, check=False)
        kb = int(peak.read_text()) if peak.exists() else 0
    return proc.returncode, proc.stderr.decode("utf-8", "replace"), time.monotonic() - started, kb / 1024


def write_case(case: Case, directory: Path) -> str:
    if case.name == "dev_zero":
        return "/dev/zero"
    policy = case.name.replace("_", "-")  # policy ids are kebab-case, and name the folder
    folder = directory / policy
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "1.0.0.yaml"
    if case.name == "enormous_file":
        with open(path, "wb") as fh:
            fh.write(_head(policy).encode())
            fh.truncate(2 * 1024**3)  # sparse: no disk used
    else:
        assert case.build is not None
        path.write_text(case.build(policy), encoding="utf-8")
    return str(path)


def run_case(case: Case, directory: Path) -> Result:
    code, stderr, seconds, rss = validate(write_case(case, directory))
    first = next((line for line in stderr.splitlines() if line.strip()), "")
    return Result(case.name, case.what, code, first[:300], round(seconds, 2), round(rss, 1),
                  "Traceback" in stderr, case.expect)


def baseline() -> Result:
    code, stderr, seconds, rss = validate(str(RULES))
    return Result("baseline", "the bundled rules (valid)", code, stderr.strip()[:300], round(seconds, 2),
                  round(rss, 1), "Traceback" in stderr, "")
