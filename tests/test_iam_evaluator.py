"""The rehearsal's IAM evaluator against AWS's documented evaluation rules
(reference_policies_evaluation-logic, reference_policies_condition-single-vs-multi-valued,
reference_policies_elements_condition_operators), one rule a test."""

from __future__ import annotations

from typing import Any

import pytest

from harness.rehearsal.iam import (
    Decision,
    PolicyError,
    Request,
    evaluate,
    evaluate_all,
    resource_matches,
)

INSTANCE = "arn:aws:ec2:eu-west-1:123456789012:instance/i-1"


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(
    action: str = "ec2:TerminateInstances", resource: str = "*", **extra: Any
) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(
    action: str = "ec2:TerminateInstances", resource: str = "*", **extra: Any
) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def decide(document: dict[str, Any], **context: list[str]) -> Decision:
    return evaluate(document, Request("ec2:TerminateInstances", INSTANCE, context)).decision


def test_nothing_is_allowed_by_default() -> None:
    assert decide(policy()) is Decision.IMPLICIT_DENY
    assert decide(policy(allow("ec2:RebootInstances"))) is Decision.IMPLICIT_DENY


def test_an_explicit_deny_wins_over_any_allow() -> None:
    document = policy(allow(), deny(), allow())

    assert decide(document) is Decision.EXPLICIT_DENY
    assert evaluate(document, Request("ec2:TerminateInstances", INSTANCE)).statement == "1"


def test_actions_ignore_case_and_take_wildcards_resources_keep_case() -> None:
    assert decide(policy(allow("EC2:terminate*"))) is Decision.ALLOWED
    assert decide(policy(allow(resource="arn:aws:ec2:*:*:instance/*"))) is Decision.ALLOWED
    assert decide(policy(allow(resource="arn:aws:ec2:*:*:Instance/*"))) is Decision.IMPLICIT_DENY


def test_a_wildcard_does_not_run_into_the_next_arn_segment() -> None:
    assert resource_matches("arn:aws:ec2:*:*:instance/*", INSTANCE)
    assert not resource_matches("arn:aws:ec2:*:instance/*", INSTANCE)
    # An empty account (public SSM parameters, images) is matched by "*".
    assert resource_matches(
        "arn:aws:ssm:*:*:parameter/aws/*", "arn:aws:ssm:eu-west-1::parameter/aws/x"
    )


def test_not_action_and_not_resource_match_everything_else() -> None:
    assert decide(policy(deny(), allow())) is Decision.EXPLICIT_DENY
    not_action = {"Effect": "Deny", "NotAction": "ec2:Describe*", "Resource": "*"}
    assert decide(policy(allow(), not_action)) is Decision.EXPLICIT_DENY
    not_resource = {"Effect": "Allow", "Action": "ec2:*", "NotResource": "arn:aws:ec2:*:*:vpc/*"}
    assert decide(policy(not_resource)) is Decision.ALLOWED


def test_every_condition_of_a_statement_must_hold_and_any_value_of_a_key() -> None:
    conditioned = allow(
        Condition={
            "StringEquals": {
                "aws:RequestedRegion": ["eu-west-1", "us-east-1"],
                "ec2:ResourceTag/Project": "state-api",
            }
        }
    )
    document = policy(conditioned)

    ours = {"aws:RequestedRegion": ["us-east-1"], "ec2:ResourceTag/Project": ["state-api"]}
    assert decide(document, **ours) is Decision.ALLOWED
    elsewhere = {**ours, "aws:RequestedRegion": ["ap-south-1"]}
    assert decide(document, **elsewhere) is Decision.IMPLICIT_DENY
    theirs = {**ours, "ec2:ResourceTag/Project": ["other"]}
    assert decide(document, **theirs) is Decision.IMPLICIT_DENY


def test_a_missing_key_fails_a_condition_without_if_exists() -> None:
    document = policy(allow(Condition={"StringEquals": {"ec2:ResourceTag/Project": "state-api"}}))

    assert decide(document) is Decision.IMPLICIT_DENY


def test_if_exists_holds_when_the_key_is_missing_and_checks_it_when_present() -> None:
    condition = {"StringEqualsIfExists": {"aws:RequestTag/Project": "state-api"}}
    document = policy(allow(Condition=condition))

    assert decide(document) is Decision.ALLOWED
    assert decide(document, **{"aws:RequestTag/Project": ["state-api"]}) is Decision.ALLOWED
    assert decide(document, **{"aws:RequestTag/Project": ["other"]}) is Decision.IMPLICIT_DENY


def test_condition_keys_ignore_case_values_do_not() -> None:
    document = policy(allow(Condition={"StringEquals": {"EC2:resourcetag/project": "state-api"}}))

    assert decide(document, **{"ec2:ResourceTag/Project": ["state-api"]}) is Decision.ALLOWED
    assert decide(document, **{"ec2:ResourceTag/Project": ["State-Api"]}) is (
        Decision.IMPLICIT_DENY
    )


def test_a_negated_operator_holds_when_the_key_is_missing() -> None:
    document = policy(
        allow(), deny(Condition={"StringNotEquals": {"aws:RequestTag/Project": "state-api"}})
    )

    assert decide(document) is Decision.EXPLICIT_DENY
    assert decide(document, **{"aws:RequestTag/Project": ["other"]}) is Decision.EXPLICIT_DENY
    assert decide(document, **{"aws:RequestTag/Project": ["state-api"]}) is Decision.ALLOWED


def test_a_negated_operator_with_several_values_holds_only_when_none_matches() -> None:
    document = policy(
        allow(), deny(Condition={"StringNotEquals": {"ec2:InstanceType": ["t3.micro", "t3.nano"]}})
    )

    assert decide(document, **{"ec2:InstanceType": ["t3.nano"]}) is Decision.ALLOWED
    assert decide(document, **{"ec2:InstanceType": ["m5.24xlarge"]}) is Decision.EXPLICIT_DENY


def test_for_all_values_holds_with_no_keys_and_when_every_value_is_listed() -> None:
    condition = {"ForAllValues:StringEquals": {"aws:TagKeys": ["Project", "RunId"]}}
    document = policy(allow(Condition=condition))

    assert decide(document) is Decision.ALLOWED  # "all of no values": AWS's documented pitfall
    assert decide(document, **{"aws:TagKeys": ["Project"]}) is Decision.ALLOWED
    assert decide(document, **{"aws:TagKeys": ["Project", "Owner"]}) is Decision.IMPLICIT_DENY


def test_for_any_value_needs_one_value_and_fails_with_no_keys() -> None:
    document = policy(
        allow(),
        deny(Condition={"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["Project", "RunId"]}}),
    )

    assert decide(document) is Decision.ALLOWED
    assert decide(document, **{"aws:TagKeys": ["RunId", "Project"]}) is Decision.ALLOWED
    assert decide(document, **{"aws:TagKeys": ["RunId", "Owner"]}) is Decision.EXPLICIT_DENY


def test_null_tests_whether_the_key_is_there() -> None:
    untagged = policy(allow(Condition={"Null": {"ec2:ResourceTag/Project": "true"}}))
    tagged = policy(allow(Condition={"Null": {"ec2:ResourceTag/Project": "false"}}))
    project = {"ec2:ResourceTag/Project": ["x"]}

    assert decide(untagged) is Decision.ALLOWED
    assert decide(untagged, **project) is Decision.IMPLICIT_DENY
    assert decide(tagged) is Decision.IMPLICIT_DENY
    assert decide(tagged, **project) is Decision.ALLOWED


def test_string_like_takes_wildcards() -> None:
    document = policy(allow(Condition={"StringLike": {"aws:RequestTag/RunId": "run-*"}}))

    assert decide(document, **{"aws:RequestTag/RunId": ["run-0123"]}) is Decision.ALLOWED
    assert decide(document, **{"aws:RequestTag/RunId": ["other"]}) is Decision.IMPLICIT_DENY


def test_an_operator_it_does_not_know_is_an_error_never_a_silent_no() -> None:
    document = policy(allow(Condition={"DateGreaterThan": {"aws:CurrentTime": "2020-01-01"}}))

    with pytest.raises(PolicyError, match="DateGreaterThan"):
        decide(document)


def test_a_call_needing_several_authorizations_needs_them_all() -> None:
    document = policy(allow(resource="arn:aws:ec2:*:*:instance/*"))
    volume = "arn:aws:ec2:eu-west-1:123456789012:volume/vol-1"

    first_refused, outcome = evaluate_all(
        document,
        [Request("ec2:TerminateInstances", INSTANCE), Request("ec2:TerminateInstances", volume)],
    )

    assert outcome.decision is Decision.IMPLICIT_DENY
    assert first_refused.resource == volume
