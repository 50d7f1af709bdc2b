"""Build the image and start it on http://127.0.0.1:5000, for a person to try (not for tests).

``scripts/run_container.sh`` runs this script. The container is the ``local`` target's, with a
fixed run id so that running it again replaces it and ``--stop`` finds it.

Exit codes: 0 started (or stopped); 1 it could not be started; 3 no Docker engine answers.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from harness.docker import Docker, DockerError, EngineUnavailable
from harness.targets.base import StartFailed, TargetOptions, new_api_key
from harness.targets.local import LocalTarget

logger = logging.getLogger(__name__)

RUN_ID = "run-container"
STOP_COMMAND = "scripts/run_container.sh --stop"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/run_container.sh", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--port", type=int, default=5000, help="host port on 127.0.0.1 (default: %(default)s)"
    )
    parser.add_argument(
        "--api-key",
        default=os.environ.get("API_KEY") or None,
        help="the key POST /update needs (default: $API_KEY, else a generated one)",
    )
    parser.add_argument(
        "--stop",
        action="store_true",
        help="remove the container, its volume and its network, then exit",
    )
    args = parser.parse_args(argv)

    docker = Docker()
    if args.stop:
        try:
            docker.require_engine()
            docker.remove_run(RUN_ID)
        except DockerError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print("stopped and removed (container, volume, network)")
        return 0

    api_key = args.api_key or new_api_key()
    # Kept when it has started: that is the point of this script.
    options = TargetOptions(api_key=api_key, keep=True, run_id=RUN_ID, host_port=args.port)
    target = LocalTarget(options)
    try:
        docker.require_engine()
        docker.remove_run(RUN_ID)  # a previous run of this script: replace it
        with target.deployed() as endpoint:
            print(f"the service runs in container {target.container} at {endpoint.base_url}")
            print(f"API key (X-API-KEY header of POST /update): {api_key}")
            print(f"logs: docker logs -f {target.container}")
            print(f"stop it (and delete its data): {STOP_COMMAND}")
    except EngineUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except StartFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3 if exc.unavailable else 1
    except DockerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    raise SystemExit(main())
