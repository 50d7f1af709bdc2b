#!/usr/bin/env bash
# Runs the whole test suite: static checks, the tests of the parts, then every scenario.
# Extra arguments go to pytest (e.g. scripts/test.sh -x -k logs).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/bootstrap.sh" requirements-dev.txt
venv="${VENV:-$root/.venv}"
cd "$root"

echo "== static checks" >&2
"$venv/bin/ruff" check .
"$venv/bin/ruff" format --check .
"$venv/bin/mypy"

echo "== tests and scenarios (target: process)" >&2
"$venv/bin/python" -m pytest --target=process "$@"
