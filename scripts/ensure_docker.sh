#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine: install Debian's docker.io when dockerd is
# absent, start dockerd in the background when `docker info` does not answer, and wait (bounded)
# until it does. Idempotent: on a machine where an engine already answers it does nothing.
#
# Usage: sudo scripts/ensure_docker.sh
# Environment:
#   DOCKERD_LOG          where dockerd writes its output (default /var/log/dockerd.log)
#   DOCKER_WAIT_SECONDS  how long to wait for the engine to answer (default 60)
# Exit codes: 0 an engine answers; 1 it could not be installed or started (the reason is printed).
set -euo pipefail

readonly DOCKERD_LOG="${DOCKERD_LOG:-/var/log/dockerd.log}"
readonly DOCKER_WAIT_SECONDS="${DOCKER_WAIT_SECONDS:-60}"

log() { printf 'ensure_docker: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

engine_answers() {
  # `docker info` can block for a long time on a half-started daemon: bound it.
  timeout 10 docker info >/dev/null 2>&1
}

if ! command -v docker >/dev/null 2>&1 && ! command -v dockerd >/dev/null 2>&1; then
  log "no docker client nor engine on PATH"
fi

if engine_answers; then
  log "engine answers: $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})' 2>/dev/null || echo unknown)"
  exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
  die "no Docker engine answers and installing or starting one needs root: run 'sudo $0', or use --target=process"
fi

if ! command -v dockerd >/dev/null 2>&1; then
  log "dockerd is absent: installing Debian's docker.io"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends docker.io >/dev/null \
    || die "apt-get install docker.io failed"
fi
command -v dockerd >/dev/null 2>&1 || die "dockerd still not on PATH after installing docker.io"

if ! pgrep -x dockerd >/dev/null 2>&1; then
  log "starting dockerd in the background (log: ${DOCKERD_LOG})"
  mkdir -p "$(dirname "${DOCKERD_LOG}")"
  # setsid: dockerd must outlive this script and not receive the caller's terminal signals.
  setsid dockerd >>"${DOCKERD_LOG}" 2>&1 < /dev/null &
else
  log "dockerd runs already; waiting for it to answer"
fi

for ((waited = 0; waited < DOCKER_WAIT_SECONDS; waited++)); do
  if engine_answers; then
    log "engine answers after ${waited}s: $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')"
    exit 0
  fi
  sleep 1
done

log "last lines of ${DOCKERD_LOG}:"
tail -n 20 "${DOCKERD_LOG}" >&2 || true
die "no Docker engine answered within ${DOCKER_WAIT_SECONDS}s"
