#!/usr/bin/env bash
# Runs the whole test suite: static checks, the tests of the parts and every scenario, with the
# cloud path's rehearsal beside them, and writes the report of the scenarios
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
  # The cloud path's rehearsal waits far more than it computes (Terraform polls EC2, an
  # instance boots and builds its image), so it runs from the start, beside the static checks
  # and the rest of the suite, which keep both cores busy in the meantime: the whole takes
  # what the rehearsal takes (bench/RESULTS.md, "The harness's own speed"). Three cases at a
  # time, each in a worker of its own (pytest-xdist); loadgroup: the tests of a module marked
  # xdist_group share one worker, and so its module fixtures (tests/xdist_loadgroup.py).
  # Its output is shown whole once it is done, not mixed into the rest. (Under this load a
  # rehearsed reboot once lost its sandbox: Docker 20.10's restart of a --rm container,
  # harness/rehearsal/instances.py says how that was mended.)
  rehearsal_log="$(mktemp "${TMPDIR:-/tmp}/rehearsal.XXXXXX")"
  "${pytest[@]}" -m rehearsal -n 3 --dist loadgroup >"$rehearsal_log" 2>&1 &
  rehearsal=$!
  # If this script ends early (Ctrl-C, a CI cancel), the rehearsal and its workers are
  # interrupted as Ctrl-C interrupts them (each destroys what it deployed: harness/signals.py)
  # and waited for.
  # shellcheck disable=SC2329 # run by the EXIT trap below
  stop_rehearsal() {
    if kill -0 "$rehearsal" 2>/dev/null; then
      echo "== stopping the rehearsal (each case destroys what it deployed)" >&2
      pkill -INT -P "$rehearsal" 2>/dev/null || true
      kill -INT "$rehearsal" 2>/dev/null || true
      wait "$rehearsal" || true
      cat "$rehearsal_log" >&2
    fi
    rm -f "$rehearsal_log"
  }
  trap stop_rehearsal EXIT
  echo "== the cloud path's rehearsal: started beside the rest (three cases at a time)" >&2

  # A failed static check fails the run, after the tests: their results are worth having.
  "$root/scripts/lint.sh" || keep_first_failure $?
  echo "== tests and scenarios (target: $target)" >&2
  "${pytest[@]}" -m "not rehearsal" || keep_first_failure $?

  echo "== the cloud path's rehearsal (three cases at a time)" >&2
  wait "$rehearsal" || keep_first_failure $?
  cat "$rehearsal_log"
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
