"""Test doubles of the account's other principals.

The rehearsal holds only the harness's key (the CI role) to the role's policy. A test that
makes a stray resource on purpose, or deletes what the role may not, signs as "someone else
in the account" — an administrator's hand, not the role — so that the enforcement applies to
the harness alone.
"""

from __future__ import annotations

from typing import Any

import boto3  # type: ignore[import-untyped]

#: The access key id of someone else in the account: never the role's, so never checked.
SOMEONE_ELSE_KEY_ID = "someone-else-in-the-account"


def someone_else(endpoint_url: str, region: str, service: str = "ec2") -> Any:
    """A client of ``service`` signed as someone else in the account."""
    session = boto3.session.Session(
        aws_access_key_id=SOMEONE_ELSE_KEY_ID,
        aws_secret_access_key=SOMEONE_ELSE_KEY_ID,
        region_name=region,
    )
    return session.client(service, endpoint_url=endpoint_url)
