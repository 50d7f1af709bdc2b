#!/usr/bin/env bash
# Runs the service locally as a plain process (no Docker needed) on http://127.0.0.1:5000.
# Settings come from the environment (see README: DATABASE_PATH, API_KEY, PORT, ...).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/bootstrap.sh" requirements.txt
cd "$root"
host="${HOST:-127.0.0.1}"
port="${PORT:-5000}"
echo "serving on http://$host:$port (database: ${DATABASE_PATH:-data/logs.db}); Ctrl-C stops it" >&2
# uvicorn's settings live in app/server.py, the same for the image and the harness.
exec "${VENV:-$root/.venv}/bin/python" -m app.server --host "$host" --port "$port"
