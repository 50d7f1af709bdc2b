"""``python -m harness.docker``: the Docker side of the harness, for scripts and CI.

- ``base-image``: print the base image to build on (making the local one if needed).
- ``image``: print the tag of the service's image, building it if needed.
- ``engine``: exit 0 when an engine answers, 1 (with the reason) otherwise.
- ``clean``: remove every container, volume and network labelled with --run-id (or, with
  --all, every one the harness made).
- ``leftovers``: list every container, volume and network the harness made; exit 1 if any.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from harness.docker.base_image import choose_base_image
from harness.docker.clean import clean, run_ids
from harness.docker.cli import Docker, DockerError
from harness.docker.image import ensure_image
from harness.labels import RUN_ID_KEY, harness_selector
from harness.leftovers import describe


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m harness.docker",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "command",
        choices=["base-image", "image", "engine", "clean", "leftovers"],
        help="what to do (see above)",
    )
    parser.add_argument("--run-id", help="clean: the run whose resources to remove")
    parser.add_argument(
        "--all", action="store_true", help="clean: every run's resources the harness made"
    )
    parser.add_argument(
        "--no-build-base",
        action="store_true",
        help="fail instead of making the local base image when the default cannot be pulled",
    )
    args = parser.parse_args(argv)
    docker = Docker()
    try:
        docker.require_engine()
        if args.command == "engine":
            return 0
        if args.command == "leftovers":
            found = describe(docker.leftovers(harness_selector()))
            for line in found:
                print(line)
            return 1 if found else 0
        if args.command == "clean":
            if not (args.all or args.run_id):
                parser.error("clean needs --run-id RUN or --all")
            for run_id in clean(docker, run_ids(docker) if args.all else {args.run_id}):
                print(f"removed what carried {RUN_ID_KEY}={run_id}")
            return 0
        base = choose_base_image(docker, build_if_missing=not args.no_build_base)
        print(base if args.command == "base-image" else ensure_image(docker, base_image=base))
    except DockerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    raise SystemExit(main())
