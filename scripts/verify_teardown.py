"""Verify that no AWS resource still carries the given tags.

Usage (from the repository root)::

    python scripts/verify_teardown.py --tag Project=state-api --tag RunId=RUN --region eu-west-1

Looks through the Resource Groups Tagging API and directly at EC2 (instances, volumes,
security groups and their rules, network interfaces, elastic IPs); a terminated instance
counts as gone.
Honours AWS_ENDPOINT_URL, so it runs against moto's server as it does against AWS.

Exit codes:
    0  nothing carries the tags
    1  something does: each leftover is printed with its type, ARN or id, and state
    2  could not check: no credentials, access denied, endpoint unreachable, bad arguments
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from harness.aws_inventory import (
    CheckError,
    check,
    tags_from_pairs,
)
from harness.leftovers import Leftover, describe

logger = logging.getLogger(__name__)

EXIT_CLEAN = 0
EXIT_LEFTOVERS = 1
EXIT_CANNOT_CHECK = 2

EPILOG = """exit codes:
  0  nothing carries the tags
  1  something does (each leftover printed: type, ARN or id, state)
  2  could not check (no credentials, access denied, endpoint unreachable, bad arguments)

AWS_ENDPOINT_URL, AWS_PROFILE, AWS_REGION and the other AWS variables are honoured."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="verify_teardown.py",
        description="List every AWS resource that still carries all the given tags.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--tag",
        action="append",
        required=True,
        metavar="KEY=VALUE",
        help="a tag every reported resource carries; repeat to require several (AND)",
    )
    parser.add_argument(
        "--region", help="AWS region to look in (default: AWS_REGION or the profile's)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="seconds to keep checking, with backoff, while something remains (default: 60)",
    )
    parser.add_argument(
        "--page-size",
        type=int,
        default=None,
        help="results per API page (EC2 takes at least 5); small values exercise pagination",
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON document instead of lines"
    )
    return parser


def _report(
    args: argparse.Namespace,
    tags: dict[str, str],
    status: str,
    leftovers: list[Leftover],
    message: str,
) -> None:
    """Lines (leftovers on stdout; an error on stderr), or one JSON document on stdout."""
    if args.json:
        document = {
            "status": status,
            "region": args.region,
            "tags": tags,
            "leftovers": [item.as_dict() for item in leftovers],
            "message": message,
        }
        print(json.dumps(document, indent=2))
        return
    for line in describe(leftovers):
        print(line)
    print(message, file=sys.stderr if status == "error" else sys.stdout)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        tags = tags_from_pairs(args.tag)
    except ValueError as exc:
        parser.error(str(exc))  # exits 2

    def progress(leftovers: list[Leftover], elapsed: float) -> None:
        logger.info(
            "%d resource(s) still there after %.0f s; checking again", len(leftovers), elapsed
        )

    try:
        leftovers = check(tags, args.region, args.timeout, args.page_size, progress)
    except CheckError as exc:
        message = f"verify_teardown: could not check: {exc}"
        _report(args, tags, "error", [], message)
        if args.json:
            print(message, file=sys.stderr)
        return EXIT_CANNOT_CHECK
    wanted = ", ".join(f"{key}={value}" for key, value in tags.items())
    if leftovers:
        _report(
            args,
            tags,
            "leftovers",
            leftovers,
            f"{len(leftovers)} resource(s) still tagged {wanted}",
        )
        return EXIT_LEFTOVERS
    _report(args, tags, "clean", [], f"nothing is tagged {wanted}")
    return EXIT_CLEAN


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    raise SystemExit(main())
