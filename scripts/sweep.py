#!/usr/bin/env python3
"""Delete what carries the project's tags, with no Terraform state: one run's resources, or
(a janitor) every run older than an age. Then verify that nothing of it remains.

Usage (installed as ``state-api-sweep``)::

    state-api-sweep --run-id gh-123456-1 --region eu-west-1
    state-api-sweep --run-id gh-123456-1 --dry-run
    state-api-sweep --older-than 150m

Only resources tagged ``Project=state-api`` are touched, each described afresh just before
its delete (see harness/sweep.py for the order and for how the janitor dates a run).
Honours AWS_ENDPOINT_URL, so it runs against the rehearsal's emulator as against AWS.

Exit codes (those of verify_teardown.py):
    0  nothing of it remains
    1  something remains (printed, with why it was left)
    2  could not check: no credentials, access denied, endpoint unreachable, bad arguments
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence

from harness.aws_inventory import CheckError, Inventory, asking_aws, check
from harness.labels import PROJECT, PROJECT_KEY, run_selector
from harness.leftovers import Leftover, describe
from harness.run_ids import check_run_id_format
from harness.sweep import SWEEP_CONFIG, Found, Sweeper, parse_duration
from scripts.verify_teardown import EXIT_CANNOT_CHECK, EXIT_CLEAN, EXIT_LEFTOVERS

logger = logging.getLogger(__name__)

EPILOG = """exit codes:
  0  nothing of it remains
  1  something remains (printed, with why it was left)
  2  could not check (no credentials, access denied, endpoint unreachable, bad arguments)

AWS_ENDPOINT_URL, AWS_PROFILE, AWS_REGION and the other AWS variables are honoured."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="state-api-sweep",
        description=f"Delete what is tagged {PROJECT_KEY}={PROJECT} and a run id (or older than "
        "an age), without Terraform's state, then verify that nothing of it remains.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    chosen = parser.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--run-id", help="sweep everything tagged with this RunId")
    chosen.add_argument(
        "--older-than",
        metavar="AGE",
        help="janitor: sweep every run older than AGE (e.g. 150m, 3h, 1d12h)",
    )
    parser.add_argument(
        "--region", help="AWS region to sweep (default: AWS_REGION or the profile's)"
    )
    parser.add_argument("--dry-run", action="store_true", help="list what would go; delete nothing")
    parser.add_argument(
        "--teardown-timeout",
        type=float,
        default=60.0,
        help="seconds the final check keeps looking while something remains (default: 60)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.run_id is not None:
            check_run_id_format(args.run_id)
        age = parse_duration(args.older_than) if args.older_than is not None else None
    except ValueError as exc:
        parser.error(str(exc))  # exits 2
    started = time.monotonic()
    try:
        sweeper = Sweeper(region=args.region, progress=print)
        found = sweeper.find_run(args.run_id) if age is None else sweeper.find_older_than(age)
        outcome = sweeper.sweep(found, dry_run=args.dry_run, recheck_undated=age is not None)
        leftovers = _final_check(args, found)
    except CheckError as exc:
        print(f"sweep: could not check: {exc}", file=sys.stderr)
        return EXIT_CANNOT_CHECK
    took = time.monotonic() - started
    summary = f"{len(outcome.deleted)} deleted, {len(outcome.left)} left, in {took:.0f}s"
    if leftovers:
        for line in describe(leftovers):
            print(line)
        print(f"sweep: {len(leftovers)} resource(s) remain ({summary})")
        return EXIT_LEFTOVERS
    print(f"sweep: nothing remains ({summary})")
    return EXIT_CLEAN


def _final_check(args: argparse.Namespace, found: list[Found]) -> list[Leftover]:
    """The teardown check: of the run, or (janitor) of what was chosen."""
    if args.run_id is not None:
        return check(
            run_selector(args.run_id),
            region=args.region,
            timeout=0 if args.dry_run else args.teardown_timeout,
        )
    chosen = {item.id for item in found}
    inventory = Inventory({PROJECT_KEY: PROJECT}, args.region, config=SWEEP_CONFIG)
    with asking_aws():
        return [item for item in inventory.ec2_resources() if item.id in chosen]


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    raise SystemExit(main())
