"""The AWS inventory of the teardown check: which AWS resources still carry a run's tags.

Two sources, because neither is enough alone:

- The Resource Groups Tagging API lists every tagged resource of every service, but also
  resources that are gone (a terminated instance stays listed for about an hour).
- Direct EC2 look-ups (instances, volumes, security groups and their rules, network
  interfaces, elastic IPs),
  filtered by the same tags, say what really exists and in which state.

A tagging hit of a type EC2 can look up is a leftover only if the direct look-up confirms it;
a hit of any other type is reported as it is. A terminated instance, a deleted volume count as
gone; an instance ``shutting-down`` is still there (it may yet fail to terminate), and
:func:`wait_until_gone` retries for a bounded time for it to finish.

boto3 honours ``AWS_ENDPOINT_URL`` (and ``AWS_ENDPOINT_URL_EC2`` and so on) by itself, which
is how the tests point this at moto's server.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import (  # type: ignore[import-untyped]
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
)
from tenacity import RetryCallState, Retrying, retry_if_result, stop_after_delay, wait_exponential

from harness.leftovers import Leftover
from harness.redact import without_url_secrets

logger = logging.getLogger(__name__)

#: Instance and volume states that mean the resource is gone.
GONE_STATES = frozenset({"terminated", "deleted"})
#: EC2 resource types (as in ARNs) that have a direct look-up below.
LOOKED_UP_TYPES = frozenset(
    {
        "instance",
        "volume",
        "security-group",
        "security-group-rule",
        "network-interface",
        "elastic-ip",
    }
)
#: Every kind of resource the check looks at, and how (the report lists them with its verdict).
LOOKED_AT = (
    ("ec2:instance", "EC2 DescribeInstances, filtered by the tags"),
    ("ec2:volume", "EC2 DescribeVolumes, filtered by the tags"),
    ("ec2:security-group", "EC2 DescribeSecurityGroups, filtered by the tags"),
    ("ec2:security-group-rule", "EC2 DescribeSecurityGroupRules, filtered by the tags"),
    ("ec2:network-interface", "EC2 DescribeNetworkInterfaces, filtered by the tags"),
    ("ec2:elastic-ip", "EC2 DescribeAddresses, filtered by the tags"),
    ("any service", "Resource Groups Tagging API GetResources (every tagged ARN, any service)"),
)
#: Fail fast on an unreachable endpoint: two attempts, short connect timeout.
CLIENT_CONFIG = Config(
    retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=30
)
#: EC2's smallest and the tagging API's largest page.
EC2_MIN_PAGE = 5
TAGGING_MAX_PAGE = 100


class CheckError(RuntimeError):
    """The check could not be made: no credentials, no access, no endpoint."""


def parse_tag(text: str) -> tuple[str, str]:
    """``"Key=a=b"`` → ``("Key", "a=b")`` (split at the first ``=``); raises ValueError when
    there is no ``=`` or nothing before it."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"tag {text!r} is not Key=Value")
    return key, value


def _ec2_filters(tags: Mapping[str, str]) -> list[dict[str, Any]]:
    return [{"Name": f"tag:{key}", "Values": [value]} for key, value in tags.items()]


def _pages(client: Any, operation: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    yield from client.get_paginator(operation).paginate(**kwargs)


def _arn_type_and_id(arn: str) -> tuple[str, str]:
    """``arn:aws:ec2:r:a:instance/i-1`` → ``("ec2:instance", "i-1")``."""
    parts = arn.split(":", 5)
    service, resource = (parts[2], parts[5]) if len(parts) == 6 else ("unknown", arn)
    if "/" in resource:
        kind, _, ident = resource.partition("/")
    else:
        kind, _, ident = resource.partition(":")
    return f"{service}:{kind}" if ident else service, ident or resource


class Inventory:
    """What carries ``tags`` in one region, through one boto3 session."""

    def __init__(
        self,
        tags: Mapping[str, str],
        region: str | None = None,
        page_size: int | None = None,
        session: boto3.session.Session | None = None,
        endpoint_url: str | None = None,
    ) -> None:
        if not tags:
            raise ValueError("at least one tag is needed: an empty filter matches everything")
        self.tags = dict(tags)
        self.page_size = page_size
        self._session = session or boto3.session.Session(region_name=region)
        #: None: boto3's own choice (AWS, or AWS_ENDPOINT_URL when set).
        self._endpoint_url = endpoint_url
        self._clients: dict[str, Any] = {}

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(
                service, config=CLIENT_CONFIG, endpoint_url=self._endpoint_url
            )
        return self._clients[service]

    def _ec2_paging(self) -> dict[str, Any]:
        if self.page_size is None:
            return {}
        return {"PaginationConfig": {"PageSize": max(EC2_MIN_PAGE, self.page_size)}}

    # Direct EC2 look-ups -------------------------------------------------------------

    def _ec2_tagged(self, operation: str, key: str) -> Iterator[dict[str, Any]]:
        """Each item under ``key`` in the answers of EC2's ``operation``, filtered by the tags."""
        for page in _pages(
            self._client("ec2"), operation, Filters=_ec2_filters(self.tags), **self._ec2_paging()
        ):
            yield from page.get(key, [])

    def instances(self) -> Iterator[Leftover]:
        for reservation in self._ec2_tagged("describe_instances", "Reservations"):
            for instance in reservation.get("Instances", []):
                state = instance.get("State", {}).get("Name", "unknown")
                yield Leftover("ec2:instance", instance["InstanceId"], state)

    def volumes(self) -> Iterator[Leftover]:
        for volume in self._ec2_tagged("describe_volumes", "Volumes"):
            yield Leftover("ec2:volume", volume["VolumeId"], volume.get("State", "unknown"))

    def security_groups(self) -> Iterator[Leftover]:
        for group in self._ec2_tagged("describe_security_groups", "SecurityGroups"):
            yield Leftover("ec2:security-group", group["GroupId"], "exists")

    def security_group_rules(self) -> Iterator[Leftover]:
        # Terraform's aws_vpc_security_group_*_rule resources carry the default tags too.
        for rule in self._ec2_tagged("describe_security_group_rules", "SecurityGroupRules"):
            yield Leftover("ec2:security-group-rule", rule["SecurityGroupRuleId"], "exists")

    def network_interfaces(self) -> Iterator[Leftover]:
        for interface in self._ec2_tagged("describe_network_interfaces", "NetworkInterfaces"):
            yield Leftover(
                "ec2:network-interface",
                interface["NetworkInterfaceId"],
                interface.get("Status", "unknown"),
            )

    def elastic_ips(self) -> Iterator[Leftover]:
        # describe_addresses does not paginate: it answers every address at once.
        answer = self._client("ec2").describe_addresses(Filters=_ec2_filters(self.tags))
        for address in answer.get("Addresses", []):
            state = "associated" if address.get("AssociationId") else "unassociated"
            ident = address.get("AllocationId") or address.get("PublicIp", "unknown")
            yield Leftover("ec2:elastic-ip", ident, state)

    def ec2_resources(self) -> list[Leftover]:
        """Every tagged EC2 resource that exists, gone ones (terminated, deleted) left out."""
        found: list[Leftover] = []
        for lookup in (
            self.instances,
            self.volumes,
            self.security_groups,
            self.security_group_rules,
            self.network_interfaces,
            self.elastic_ips,
        ):
            found.extend(item for item in lookup() if item.state not in GONE_STATES)
        return found

    # The tagging API ---------------------------------------------------------------------

    def tagged_arns(self) -> list[str]:
        """Every ARN the Resource Groups Tagging API lists with the tags (stale ones too)."""
        kwargs: dict[str, Any] = {
            "TagFilters": [{"Key": key, "Values": [value]} for key, value in self.tags.items()]
        }
        if self.page_size is not None:
            kwargs["ResourcesPerPage"] = min(TAGGING_MAX_PAGE, max(1, self.page_size))
        arns: list[str] = []
        for page in _pages(self._client("resourcegroupstaggingapi"), "get_resources", **kwargs):
            arns.extend(item["ResourceARN"] for item in page.get("ResourceTagMappingList", []))
        return arns

    def leftovers(self) -> list[Leftover]:
        """What still carries the tags: direct look-ups, plus tagging hits EC2 cannot confirm
        or deny. Raises :class:`CheckError` when AWS cannot be asked."""
        try:
            return self._leftovers()
        except NoCredentialsError as exc:
            raise CheckError(
                "no AWS credentials found (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and"
                " AWS_SECRET_ACCESS_KEY)"
            ) from exc
        except NoRegionError as exc:
            raise CheckError("no AWS region: pass --region or set AWS_REGION") from exc
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise CheckError(
                f"AWS refused {exc.operation_name}: {error.get('Code', 'error')}:"
                f" {error.get('Message', '')}".rstrip(": ")
            ) from exc
        except BotoCoreError as exc:
            # botocore names the endpoint it could not reach: AWS_ENDPOINT_URL as given.
            raise CheckError(f"could not reach AWS: {without_url_secrets(str(exc))}") from exc

    def _leftovers(self) -> list[Leftover]:
        existing = self.ec2_resources()
        by_id = {item.id: item for item in existing}
        extra: list[Leftover] = []
        for arn in self.tagged_arns():
            type_, ident = _arn_type_and_id(arn)
            service, _, kind = type_.partition(":")
            if service == "ec2" and kind in LOOKED_UP_TYPES:
                if ident in by_id:
                    by_id[ident] = Leftover(**{**by_id[ident].as_dict(), "arn": arn})
                else:
                    logger.debug("tagging API lists %s, but EC2 says it is gone", arn)
                continue
            extra.append(Leftover(type_, ident, "tagged (no direct look-up)", arn))
        return [by_id[item.id] for item in existing] + extra


def wait_until_gone(
    inventory: Inventory,
    timeout: float,
    on_retry: Callable[[list[Leftover], float], None] | None = None,
) -> list[Leftover]:
    """Check again, with exponential backoff, until nothing remains or ``timeout`` seconds
    have passed; return what remains at the end (empty: all gone)."""
    started = time.monotonic()

    def before_sleep(state: RetryCallState) -> None:
        if on_retry is not None and state.outcome is not None:
            on_retry(state.outcome.result(), time.monotonic() - started)

    retrying = Retrying(
        stop=stop_after_delay(max(0.0, timeout)),
        wait=wait_exponential(multiplier=1, min=1, max=15),
        retry=retry_if_result(bool),
        before_sleep=before_sleep,
        retry_error_callback=lambda state: state.outcome.result() if state.outcome else [],
        reraise=True,
    )
    result: list[Leftover] = retrying(inventory.leftovers)
    return result


def check(
    tags: Mapping[str, str],
    region: str | None = None,
    timeout: float = 0,
    page_size: int | None = None,
    on_retry: Callable[[list[Leftover], float], None] | None = None,
    *,
    session: boto3.session.Session | None = None,
    endpoint_url: str | None = None,
) -> list[Leftover]:
    """What still carries ``tags`` after waiting up to ``timeout`` seconds for it to go."""
    inventory = Inventory(tags, region, page_size, session=session, endpoint_url=endpoint_url)
    return wait_until_gone(inventory, timeout, on_retry)


def tags_from_pairs(pairs: Sequence[str]) -> dict[str, str]:
    """``["Project=x", "Name=y"]`` → ``{"Project": "x", "Name": "y"}``."""
    return dict(parse_tag(pair) for pair in pairs)
