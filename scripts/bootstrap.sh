#!/usr/bin/env bash
# Creates the virtual environment (.venv, or $VENV) and installs one pinned requirements file
# into it: requirements.txt to run the service, requirements-dev.txt to test it. Reinstalls
# only when a requirements file or pyproject.toml changed.
# Usage: scripts/bootstrap.sh [requirements.txt|requirements-dev.txt]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
requirements="${1:-requirements-dev.txt}"
venv="${VENV:-$root/.venv}"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
  echo "creating the virtual environment in $venv" >&2
  "$python" -m venv "$venv"
fi

stamp="$venv/.installed-$(basename "$requirements")"
digest="$(cat "$root/requirements.txt" "$root/$requirements" "$root/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$digest" ]; then
  echo "installing $requirements into $venv" >&2
  # pip compiles what it installs one file at a time; compileall does it on every core,
  # which takes a fresh virtual environment from about 55 s to 40 s on 2 cores.
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-compile \
    -r "$root/$requirements"
  if [ "$requirements" = requirements-dev.txt ]; then
    # This repository itself, editable: the harness imports from anywhere, and the tools for
    # people (pyproject.toml's [project.scripts]) land in $venv/bin.
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e "$root"
  fi
  "$venv/bin/python" -m compileall -q -j 0 "$venv/lib" >/dev/null
  echo "$digest" >"$stamp"
fi
