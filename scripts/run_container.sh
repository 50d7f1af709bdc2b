#!/usr/bin/env bash
# Builds the image (reused when nothing it is built from changed) and starts it as a container
# on http://127.0.0.1:5000; prints the URL, the API key and how to stop it.
# Usage: scripts/run_container.sh [--port N] [--api-key KEY] [--stop]
# Needs a Docker engine: 'sudo scripts/ensure_docker.sh' starts one.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/bootstrap.sh" requirements-dev.txt
cd "$root"
exec "${VENV:-$root/.venv}/bin/python" "$root/scripts/run_container.py" "$@"
