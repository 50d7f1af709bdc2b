#!/usr/bin/env python3
"""Deploy the API to one EC2 instance with Terraform, and print its URL.

Usage (from the repository root, AWS credentials in the environment)::

    python scripts/deploy.py --region eu-west-1
    python scripts/deploy.py --allowed-cidr 203.0.113.7/32 --instance-type t2.micro

The run gets its own id and its own copy of terraform/ under .runs/RUN_ID (its state lives
there); `python scripts/destroy.py` takes it down again. The runner's public address is asked
for when no --allowed-cidr is given; an API key is generated when none is given
(API_KEY in the environment), and printed only with --print-key. If the apply fails half-way,
what it created is destroyed again (unless --keep-on-failure).

Offline, against an AWS emulator started with `python -m harness.rehearsal.emulator` (real
Terraform, the instance's first boot in a sandbox container; no AWS account)::

    python scripts/deploy.py --rehearse --emulator-url http://127.0.0.1:PORT

Once the apply has started, any way out short of success (an error, Ctrl-C, SIGTERM, SIGHUP)
destroys what was created and runs the teardown check, unless --keep-on-failure.

Exit codes:
    0  deployed and healthy
    1  the deployment failed (what was created is destroyed, or the command to do so printed)
    2  bad arguments
    130  interrupted (what was created is destroyed, as for a failure)
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from harness import ci, cloud_choice
from harness.cloud import Cloud, runner_cidrs
from harness.deploy import HEALTH_TIMEOUT, TerraformRun
from harness.errors import DeploymentError, TargetError, TargetUnavailable
from harness.paths import RUNS_DIR
from harness.run_ids import check_new_run_id
from harness.runs import TTL_MINUTES_MAX, TTL_MINUTES_MIN, RunRecord, region_from, ttl_minutes
from harness.signals import signals_interrupt
from harness.targets.base import new_api_key, new_run_id
from harness.teardown import destroy_and_verify

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deploy.py",
        description="Deploy the API to one EC2 instance with Terraform and print its URL.",
        epilog="exit codes: 0 deployed and healthy, 1 failed, 2 bad arguments",
    )
    parser.add_argument("--region", help="AWS region (default: $AWS_REGION, else eu-west-1)")
    parser.add_argument(
        "--allowed-cidr",
        action="append",
        default=[],
        help="a CIDR allowed to reach the API, repeatable (default: this machine's /32)",
    )
    parser.add_argument("--instance-type", help="EC2 instance type (default: t3.micro)")
    parser.add_argument(
        "--ttl-minutes",
        type=ttl_minutes,
        help=f"the instance terminates itself this many minutes after its first boot, "
        f"{TTL_MINUTES_MIN} to {TTL_MINUTES_MAX} (default: 120)",
    )
    parser.add_argument(
        "--run-id",
        default=None,
        help="id of the run: 1-40 letters, digits or ._-, e.g. gh-123456789-1 (default: a new "
        "one); refused when its directory exists in --runs-dir",
    )
    parser.add_argument(
        "--runs-dir", type=Path, default=RUNS_DIR, help="where runs keep their state (.runs)"
    )
    parser.add_argument(
        "--print-key", action="store_true", help="print the API key (never printed otherwise)"
    )
    parser.add_argument(
        "--no-wait", action="store_true", help="do not wait for /health after the apply"
    )
    parser.add_argument(
        "--health-timeout",
        type=float,
        default=HEALTH_TIMEOUT,
        help="seconds the first boot may take (default: %(default)s)",
    )
    parser.add_argument(
        "--keep-on-failure",
        action="store_true",
        help="leave what a failed apply created, to look at it (destroy.py removes it)",
    )
    parser.add_argument(
        "--rehearse",
        action="store_true",
        help="deploy to the AWS emulator at --emulator-url, the instance booting in a sandbox",
    )
    parser.add_argument(
        "--emulator-url",
        help="with --rehearse: the emulator (python -m harness.rehearsal.emulator prints it)",
    )
    return parser


def choose_cloud(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Cloud:
    """The cloud the flags ask for; a contradiction between them is a usage error (exit 2)."""
    try:
        return cloud_choice.choose(
            rehearse=args.rehearse,
            emulator_url=args.emulator_url,
            progress=print,
            outlives_the_command="--rehearse",
        )
    except TargetUnavailable as exc:
        parser.error(str(exc))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.run_id is not None:
        try:
            check_new_run_id(args.run_id, args.runs_dir)
        except ValueError as exc:
            parser.error(str(exc))  # exits 2
    signals_interrupt()  # SIGTERM/SIGHUP clean up like Ctrl-C
    try:
        cloud = choose_cloud(args, parser)
        record = RunRecord(
            run_id=args.run_id or new_run_id(),
            region=args.region or region_from(),
            allowed_cidrs=runner_cidrs(args.allowed_cidr or [], cloud),
            instance_type=args.instance_type,
            ttl_minutes=args.ttl_minutes,
        )
        api_key = os.environ.get("API_KEY") or new_api_key()
        ci.mask(api_key)  # before anything that could print it, --print-key's line included
        run = TerraformRun.create(
            record,
            api_key,
            cloud=cloud,
            runs_dir=args.runs_dir,
            progress=print,
        )
    except TargetError as exc:
        print(f"deploy: {exc}", file=sys.stderr)
        return 1
    # From here on, every way out but success destroys what the apply created.
    try:
        url = run.deploy(wait=not args.no_wait, health_timeout=args.health_timeout)
    except BaseException as exc:
        interrupted = isinstance(exc, KeyboardInterrupt)
        what = "interrupted" if interrupted else f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, (TargetError, KeyboardInterrupt)):
            logger.exception("deploy failed unexpectedly")
        print(f"deploy: {what}", file=sys.stderr)
        if args.keep_on_failure:
            print(f"deploy: left as it is; remove it with: {run.finish_command()}", file=sys.stderr)
        else:
            print("deploy: destroying what was created", file=sys.stderr)
            try:
                destroy_and_verify(run)
            except DeploymentError as cleanup:
                print(f"deploy: {cleanup}", file=sys.stderr)
        return 130 if interrupted else 1
    print(f"deployed run {record.run_id}: {url}")
    print(f"  test it:    pytest features/ --target=url --base-url={url} --api-key=...")
    print(f"  destroy it: {run.finish_command()}")
    if args.print_key:
        print(f"  API key:    {run.api_key()}")
    else:
        print(f"  API key:    in {run.key_file} (or run again with --print-key)")
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    raise SystemExit(main())
