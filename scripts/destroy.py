#!/usr/bin/env python3
"""Destroy a deployment made by deploy.py (or kept by `pytest --target=aws --keep`), then
prove that nothing tagged with its run id remains.

Usage (from the repository root)::

    python scripts/destroy.py                       # the latest run (.runs/latest)
    python scripts/destroy.py --run-dir .runs/RUN_ID

Exit codes:
    0  destroyed, and nothing tagged with the run id remains (the run's directory is removed)
    1  the destroy failed, or something tagged remains (printed; the state is kept)
    2  no such run, or bad arguments
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.deploy import TerraformRun
from harness.errors import DeploymentError
from harness.paths import RUNS_DIR
from harness.runs import latest_run_dir
from harness.teardown import TEARDOWN_TIMEOUT, destroy_and_verify

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="destroy.py",
        description="Destroy a recorded deployment, then verify that nothing tagged remains.",
        epilog="exit codes: 0 all gone, 1 destroy failed or something remains, 2 no such run",
    )
    parser.add_argument(
        "--run-dir", type=Path, help="the run's directory (default: the latest run in .runs)"
    )
    parser.add_argument(
        "--teardown-timeout",
        type=float,
        default=TEARDOWN_TIMEOUT,
        help="seconds to wait for AWS to finish deleting (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    try:
        run = TerraformRun.load(args.run_dir or latest_run_dir(RUNS_DIR), progress=print)
    except DeploymentError as exc:
        print(f"destroy: {exc}", file=sys.stderr)
        return 2
    try:
        destroy_and_verify(run, teardown_timeout=args.teardown_timeout)
    except DeploymentError as exc:
        print(f"destroy: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    raise SystemExit(main())
