#!/usr/bin/env bash
# Runs the whole test suite: static checks, the tests of the parts, then every scenario.
# Extra arguments go to pytest (e.g. scripts/test.sh -x -k logs).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/bootstrap.sh" requirements-dev.txt
venv="${VENV:-$root/.venv}"
cd "$root"

"$root/scripts/lint.sh"

# The scenarios run in a real container whenever a Docker engine answers; elsewhere on the
# plain process, saying so at the end. In CI (CI=true) a missing engine is a failure.
if engine_problem="$("$venv/bin/python" -m harness.docker engine 2>&1)"; then
  target=local
elif [ "${CI:-}" = "true" ]; then
  echo "error: CI must exercise the container, but ${engine_problem#error: }" >&2
  exit 1
else
  target=process
fi

echo "== tests and scenarios (target: $target)" >&2
status=0
"$venv/bin/python" -m pytest --target="$target" "$@" || status=$?
if [ "$target" = process ]; then
  echo "NOTE: no Docker engine answered, so the scenarios ran on the process target and the" \
    "container was NOT exercised (start an engine with 'sudo scripts/ensure_docker.sh')." >&2
fi
exit "$status"
