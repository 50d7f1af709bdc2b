#!/usr/bin/env bash
# Installs the Node tools that package-lock.json pins (Allure Report 3 renders the HTML report,
# gherkin-lint checks the feature files) into node_modules with `npm ci`; again only when
# package-lock.json changed. Install scripts are not run: none of these tools needs one.
# Usage: scripts/bootstrap_node.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if ! command -v npm >/dev/null 2>&1; then
  echo "error: npm is missing: install Node.js 20 and npm (Debian: apt-get install nodejs npm)" >&2
  exit 1
fi

stamp="node_modules/.installed-package-lock"
digest="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$digest" ]; then
  echo "installing the Node tools of package-lock.json into node_modules" >&2
  npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
  echo "$digest" >"$stamp"
fi
