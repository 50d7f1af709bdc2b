#!/usr/bin/env bash
# Runs the whole test suite: static checks, the tests of the parts and every scenario, then the
# cloud path's rehearsal, and writes the report of the scenarios
# (reports/allure-report/index.html, reports/summary.md). It fails if any of them failed.
# Extra arguments go to pytest, which then runs once with them (e.g. scripts/test.sh -x -k logs).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/bootstrap.sh" requirements-dev.txt
"$root/scripts/bootstrap_node.sh"
venv="${VENV:-$root/.venv}"
cd "$root"

# Every scenario's result, per target, goes to one fresh directory; a nested session given
# --alluredir adds its own (harness/report/plugin.py). The report is made from all of them.
results="$root/reports/allure-results"
rm -rf "$results"
mkdir -p "$results"

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
pytest=("$venv/bin/python" -m pytest --target="$target" --alluredir="$results")

# The run's exit status: the first failure's, whichever part failed (every part still runs).
status=0
keep_first_failure() {
  if [ "$status" -eq 0 ]; then
    status="$1"
  fi
}
if [ "$#" -gt 0 ]; then
  "$root/scripts/lint.sh" || keep_first_failure $?
  echo "== tests and scenarios (target: $target)" >&2
  "${pytest[@]}" "$@" || keep_first_failure $?
else
  "$root/scripts/lint.sh" || keep_first_failure $?
  echo "== tests and scenarios (target: $target)" >&2
  "${pytest[@]}" -m "not rehearsal" || keep_first_failure $?
  # The cloud path's rehearsal waits far more than it computes (Terraform polls EC2, an
  # instance boots and builds its image): three cases at a time, each in a worker of its own
  # (pytest-xdist); loadgroup: the tests of a module marked xdist_group share one worker, and
  # so its module fixtures (tests/xdist_loadgroup.py). It runs after the rest, not beside it:
  # side by side the whole took 10-11 minutes from a fresh clone, but with both cores busy
  # throughout, two runs in eight had a rehearsal case fail on the shared Docker engine's
  # slowness (bench/RESULTS.md, "The harness's own speed").
  echo "== the cloud path's rehearsal (three cases at a time)" >&2
  "${pytest[@]}" -m rehearsal -n 3 --dist loadgroup || keep_first_failure $?
fi
echo "== report" >&2
report=0
"$venv/bin/python" -m harness.report build --results "$results" || report=$?
# 2: no scenario ran (e.g. -k picked only tests of the parts), so there is nothing to report.
if [ "$report" -ne 2 ]; then
  keep_first_failure "$report"
fi
if [ "$target" = process ]; then
  echo "NOTE: no Docker engine answered, so the scenarios ran on the process target and the" \
    "container was NOT exercised (start an engine with 'sudo scripts/ensure_docker.sh')." >&2
fi
exit "$status"
