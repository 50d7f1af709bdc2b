#!/usr/bin/env bash
# Runs the whole test suite: static checks, the tests of the parts, then every scenario, and
# writes the report of the scenarios (reports/allure-report/index.html, reports/summary.md).
# Extra arguments go to pytest, which then runs once with them (e.g. scripts/test.sh -x -k logs).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/bootstrap.sh" requirements-dev.txt
"$root/scripts/bootstrap_node.sh"
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
# Every scenario's result, per target, goes to one fresh directory; a nested session given
# --alluredir adds its own (harness/report/plugin.py). The report is made from all of them.
results="$root/reports/allure-results"
pytest=("$venv/bin/python" -m pytest --target="$target" --alluredir="$results")
if [ "$#" -gt 0 ]; then
  "${pytest[@]}" --clean-alluredir "$@" || status=$?
else
  # Everything but the rehearsal of the cloud path, in one process: it keeps both cores busy.
  "${pytest[@]}" --clean-alluredir -m "not rehearsal" || status=$?
  # The rehearsal waits far more than it computes (Terraform polls EC2, instances boot):
  # three cases at a time, each in a worker of its own (pytest-xdist), take half the time.
  # loadgroup: the tests of a module marked xdist_group share one worker, and so its
  # module fixtures (tests/test_ci_role.py's deployment ran once per worker otherwise).
  echo "== the cloud path's rehearsal (three cases at a time)" >&2
  "${pytest[@]}" -m rehearsal -n 3 --dist loadgroup || status=$?
fi
echo "== report" >&2
report=0
"$venv/bin/python" -m harness.report build --results "$results" || report=$?
# 2: no scenario ran (e.g. -k picked only tests of the parts), so there is nothing to report.
if [ "$report" -ne 0 ] && [ "$report" -ne 2 ] && [ "$status" -eq 0 ]; then
  status="$report"
fi
if [ "$target" = process ]; then
  echo "NOTE: no Docker engine answered, so the scenarios ran on the process target and the" \
    "container was NOT exercised (start an engine with 'sudo scripts/ensure_docker.sh')." >&2
fi
exit "$status"
