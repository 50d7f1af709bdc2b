#!/usr/bin/env bash
# Make the local Python base image from Debian packages, for machines where no container
# registry can be reached. The harness does this by itself when it needs to (it is the job of
# harness/docker/build_base_image.sh, which this runs); run it by hand to make it ahead.
# Usage: sudo scripts/build_base_image.sh [--force] [IMAGE]
set -euo pipefail
exec bash "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/harness/docker/build_base_image.sh" "$@"
