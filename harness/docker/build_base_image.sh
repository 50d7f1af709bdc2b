#!/usr/bin/env bash
# Make a local Python base image from Debian packages, for machines where no container registry
# can be reached (the Dockerfile's default base, the official slim Python image, cannot be
# pulled there). The image holds Debian bookworm (minbase), python3, python3-venv and this
# machine's CA bundle, so that pip inside `docker build` trusts the network's TLS.
#
# Nothing host-specific lives in the repository: the Debian mirror is read from this machine's
# apt configuration each time the script runs.
#
# Whether this image is needed at all is decided in one place, harness/docker/base_image.py
# (`python -m harness.docker base-image`), which calls this script only when pulling fails.
#
# Usage: sudo scripts/build_base_image.sh [--force] [IMAGE]
#   IMAGE    name of the image to make (default state-api-base:bookworm)
#   --force  rebuild even when the image exists
# Exit codes: 0 the image exists; 1 it could not be made (the reason is printed); 2 bad usage.
set -euo pipefail

readonly SUITE=bookworm
readonly HOST_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
readonly DEB822_SOURCES=/etc/apt/sources.list.d/debian.sources
readonly LEGACY_SOURCES=/etc/apt/sources.list

log() { printf 'build_base_image: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

force=0
image=state-api-base:bookworm
for arg in "$@"; do
  case "${arg}" in
    --force) force=1 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    -*) log "unknown option ${arg}"; exit 2 ;;
    *) image="${arg}" ;;
  esac
done

if [[ "${force}" -eq 0 ]] && docker image inspect "${image}" >/dev/null 2>&1; then
  log "${image} exists; nothing to do (--force rebuilds it)"
  exit 0
fi

[[ "$(id -u)" -eq 0 ]] || die "debootstrap needs root: run 'sudo $0'"
timeout 10 docker info >/dev/null 2>&1 || die "no Docker engine answers: run 'sudo scripts/ensure_docker.sh' first"
[[ -r "${HOST_CA_BUNDLE}" ]] || die "no CA bundle at ${HOST_CA_BUNDLE}"

# The first mirror that serves the main archive (not the security one), from this machine's
# apt configuration: deb822 first, the one-line format as a fallback.
mirror_uri() {
  local uri=""
  if [[ -r "${DEB822_SOURCES}" ]]; then
    uri="$(awk '
      /^[[:space:]]*$/ { if (uris != "" && suites ~ /(^| )'"${SUITE}"'( |$)/) { print uris; exit } uris = ""; suites = ""; next }
      /^URIs:/ { uris = $2 }
      /^Suites:/ { $1 = ""; suites = $0 " " }
      END { if (uris != "" && suites ~ /(^| )'"${SUITE}"'( |$)/) print uris }
    ' "${DEB822_SOURCES}" | head -n 1)"
  fi
  if [[ -z "${uri}" && -r "${LEGACY_SOURCES}" ]]; then
    uri="$(awk '$1 == "deb" && $3 == "'"${SUITE}"'" { print $2; exit }' "${LEGACY_SOURCES}")"
  fi
  printf '%s' "${uri}"
}

uri="$(mirror_uri)"
[[ -n "${uri}" ]] || die "no ${SUITE} mirror found in ${DEB822_SOURCES} or ${LEGACY_SOURCES}"

if ! command -v debootstrap >/dev/null 2>&1; then
  log "installing debootstrap"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends debootstrap >/dev/null || die "apt-get install debootstrap failed"
fi

workdir="$(mktemp -d /tmp/state-api-base.XXXXXX)"
# debootstrap leaves root-owned device nodes and mounts nothing with --variant=minbase; a plain
# recursive delete is enough.
trap 'rm -rf "${workdir}"' EXIT
rootfs="${workdir}/rootfs"

log "debootstrap ${SUITE} (minbase + python3, python3-venv, ca-certificates) into ${rootfs}"
started=${SECONDS}
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  "${SUITE}" "${rootfs}" "${uri}" >"${workdir}/debootstrap.log" 2>&1 \
  || { tail -n 20 "${workdir}/debootstrap.log" >&2; die "debootstrap failed"; }

# The network re-signs TLS: pip inside `docker build` must trust what this machine trusts.
cp "${HOST_CA_BUNDLE}" "${rootfs}/etc/ssl/certs/ca-certificates.crt"
# Debian's python3 is /usr/bin/python3; the official image's is /usr/local/bin/python3. Offer
# both paths so that anything written against the official image finds it.
ln -sf /usr/bin/python3 "${rootfs}/usr/local/bin/python3"
ln -sf /usr/bin/python3 "${rootfs}/usr/local/bin/python"
# Smaller image: apt lists and caches, docs and man pages are never needed at run time.
rm -rf "${rootfs}/var/lib/apt/lists/"* "${rootfs}/var/cache/apt/"*.bin \
  "${rootfs}/var/cache/apt/archives/"*.deb "${rootfs}/usr/share/doc/"* "${rootfs}/usr/share/man/"* \
  "${rootfs}/usr/share/locale/"* "${rootfs}/var/log/"*.log

log "importing ${rootfs} as ${image}"
tar --numeric-owner -C "${rootfs}" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  - "${image}" >/dev/null

log "${image} made in $((SECONDS - started))s: $(docker image inspect "${image}" --format '{{.Size}}' | awk '{ printf "%.0f MB", $1 / 1e6 }'), $(docker run --rm "${image}" python3 --version)"
