#!/usr/bin/env bash
# Make sure the report's browser test has a headless browser and its driver: Debian's chromium
# and chromium-driver, installed when absent (needs root), or the ones CHROMIUM and CHROMEDRIVER
# name. Idempotent: where both are there it does nothing.
#
# Usage: sudo scripts/ensure_browser.sh
# Exit codes: 0 a browser and its driver are there; 1 they are not and could not be installed.
set -euo pipefail

log() { printf 'ensure_browser: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

chromium="${CHROMIUM:-/usr/bin/chromium}"
driver="${CHROMEDRIVER:-/usr/bin/chromedriver}"

if [ -x "$chromium" ] && [ -x "$driver" ]; then
  log "$chromium and $driver are there"
  exit 0
fi
if [ -n "${CHROMIUM:-}${CHROMEDRIVER:-}" ]; then
  die "CHROMIUM ($chromium) or CHROMEDRIVER ($driver) names no executable"
fi
if [ "$(id -u)" -ne 0 ]; then
  die "chromium or chromium-driver is missing and installing them needs root: run 'sudo $0'"
fi

log "installing Debian's chromium and chromium-driver"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || die "apt-get update failed"
apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null \
  || die "apt-get install chromium chromium-driver failed"
[ -x "$chromium" ] && [ -x "$driver" ] || die "still no $chromium and $driver after installing"
log "installed"
