#!/usr/bin/env bash
# Dependency audit: pip-audit over exactly what the project's venv has installed (the service and its
# test tools), in a throw-away venv so pip-audit's own dependencies never mix with the project's.
#
#   scripts/audit_deps.sh                 # uses .venv; needs the vulnerability service (PyPI JSON API or OSV)
#   AUDIT_SERVICE=osv scripts/audit_deps.sh
#
# --strict: a dependency that could not be looked up FAILS the audit. Without it, a machine that
# reaches only a package mirror (no vulnerability data) would report "No known vulnerabilities found"
# after skipping every package. Exit status: 0 clean, 1 vulnerabilities or packages not audited.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
SERVICE="${AUDIT_SERVICE:-pypi}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$VENV/bin/python" -m pip freeze --exclude-editable --disable-pip-version-check > "$work/requirements.txt"
python3 -m venv "$work/audit"
"$work/audit/bin/pip" install --quiet --disable-pip-version-check pip-audit
echo "auditing $(wc -l < "$work/requirements.txt") packages from $VENV against $SERVICE" >&2
"$work/audit/bin/pip-audit" --strict --vulnerability-service "$SERVICE" --progress-spinner off \
    --requirement "$work/requirements.txt" --no-deps --disable-pip
