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
# uv installs a requirements file in a few seconds where pip takes 40 (25 for checkov's), from
# the same index (PyPI). It is pinned here and installed into the environment by pip. Where uv
# cannot be had or cannot install (e.g. only pip is configured for a private index), pip does.
uv_pin="uv==0.13.9"
install_with_uv() {
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$uv_pin" || return 1
  "$venv/bin/uv" pip install --quiet --python "$venv/bin/python" -r "$root/$requirements" \
    || return 1
  if [ "$requirements" = requirements-dev.txt ]; then
    "$venv/bin/uv" pip install --quiet --python "$venv/bin/python" --no-deps -e "$root"
  fi
}
install_with_pip() {
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-compile \
    -r "$root/$requirements"
  if [ "$requirements" = requirements-dev.txt ]; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e "$root"
  fi
}

if [ "$(cat "$stamp" 2>/dev/null || true)" != "$digest" ]; then
  echo "installing $requirements into $venv" >&2
  # requirements-dev.txt also installs this repository itself, editable: the harness imports
  # from anywhere, and the tools for people (pyproject.toml's [project.scripts]) land in
  # $venv/bin.
  if ! install_with_uv; then
    echo "uv could not install $requirements: installing it with pip" >&2
    install_with_pip
  fi
  # Compiled on every core, once, rather than by each first import (the rehearsal's nested
  # sessions run with PYTHONDONTWRITEBYTECODE=1 and would compile at each start).
  "$venv/bin/python" -m compileall -q -j 0 "$venv/lib" >/dev/null
  echo "$digest" >"$stamp"
fi
