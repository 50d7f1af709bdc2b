"""The smallest IAM policy evaluator that decides what the CI role's policy decides.

No maintained Python library evaluates identity policies with conditions offline (moto's
checks ignore conditions; fakecloud's evaluator lives in its Rust server, not in its Python
SDK), so this one does, for one identity policy and AWS's documented rules
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):

- an explicit Deny that matches wins; otherwise an Allow that matches allows; otherwise the
  request is denied by default;
- a statement matches when its Action (or NotAction) and Resource (or NotResource) match and
  every condition holds: AND across operators and keys, OR across a key's values;
- a key missing from the request fails a condition, except under ``...IfExists`` (it holds),
  ``Null`` (that is what it tests), a negated operator (``StringNotEquals`` holds), and
  ``ForAllValues:`` (holds: "all of no values");
- ``ForAnyValue:`` holds when one of the request's values matches, ``ForAllValues:`` when
  every one does.

Only the operators the role's policy uses are known (String*, Null); any other is an error,
never a silent "no match". Condition keys are compared without regard to case, values with.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


class PolicyError(ValueError):
    """The policy uses something this evaluator does not evaluate."""


class Decision(enum.Enum):
    ALLOWED = "allowed"
    EXPLICIT_DENY = "explicitly denied"
    IMPLICIT_DENY = "not allowed by any statement"


@dataclass(frozen=True)
class Request:
    """One authorization: an action on one resource, with the request context's keys.

    ``context`` maps a condition key (``aws:RequestedRegion``, ``ec2:ResourceTag/Project``,
    ``aws:TagKeys``) to its values: one for a single-valued key, any number for
    ``aws:TagKeys``. A key that is absent from the request is absent from the mapping.
    """

    action: str
    resource: str
    context: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    decision: Decision
    statement: str = ""  # the Sid (or index) of the deciding statement

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.ALLOWED


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _glob(pattern: str, text: str, *, ignore_case: bool) -> bool:
    """IAM's wildcards: ``*`` any run of characters (none too), ``?`` exactly one."""
    regex = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
    flags = re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL
    return re.fullmatch(regex, text, flags) is not None


def action_matches(pattern: str, action: str) -> bool:
    """Actions are not case sensitive (``ec2:runinstances`` is ``ec2:RunInstances``)."""
    return _glob(pattern, action, ignore_case=True)


def resource_matches(pattern: str, arn: str) -> bool:
    """An ARN pattern, segment by segment: partition, service, region, account, resource.

    ``*`` alone matches every resource; within a segment a wildcard does not run into the
    next one (the resource part, which may hold colons, is the last segment). A request for
    no particular resource (``*``) is matched only by ``*``.
    """
    if pattern == "*":
        return True
    wanted = pattern.split(":", 5)
    given = arn.split(":", 5)
    if len(wanted) != 6 or len(given) != 6:
        return False  # not an ARN (IAM refuses such a policy): it matches nothing
    return all(_glob(w, g, ignore_case=False) for w, g in zip(wanted, given, strict=True))


def _string_equals(policy_value: str, value: str) -> bool:
    return policy_value == value


def _string_like(policy_value: str, value: str) -> bool:
    return _glob(policy_value, value, ignore_case=False)


def _string_equals_ignore_case(policy_value: str, value: str) -> bool:
    return policy_value.casefold() == value.casefold()


#: Base operator → (compare one policy value with one request value, negated?).
_OPERATORS = {
    "StringEquals": (_string_equals, False),
    "StringNotEquals": (_string_equals, True),
    "StringEqualsIgnoreCase": (_string_equals_ignore_case, False),
    "StringNotEqualsIgnoreCase": (_string_equals_ignore_case, True),
    "StringLike": (_string_like, False),
    "StringNotLike": (_string_like, True),
}


def _lookup(context: Mapping[str, Sequence[str]], key: str) -> Sequence[str] | None:
    wanted = key.casefold()
    for name, values in context.items():
        if name.casefold() == wanted:
            return values
    return None


def _single_value_holds(base: str, policy_values: list[str], value: str) -> bool:
    compare, negated = _OPERATORS[base]
    matched = any(compare(policy_value, value) for policy_value in policy_values)
    # A negated operator holds when the value matches none of the policy's values.
    return not matched if negated else matched


def condition_holds(
    operator: str, key: str, policy_values: list[str], context: Mapping[str, Sequence[str]]
) -> bool:
    """One key of one operator of a Condition block."""
    qualifier, _, rest = operator.partition(":") if ":" in operator else ("", "", operator)
    if_exists = rest.endswith("IfExists")
    base = rest.removesuffix("IfExists")
    values = _lookup(context, key)
    if base == "Null":
        if qualifier or if_exists or not all(v in ("true", "false") for v in policy_values):
            raise PolicyError(f'Null takes only "true" or "false": {operator} {key}')
        absent = values is None or len(values) == 0
        return any((policy_value == "true") == absent for policy_value in policy_values)
    if base not in _OPERATORS:
        raise PolicyError(f"this evaluator does not know the condition operator {operator}")
    if qualifier not in ("", "ForAllValues", "ForAnyValue"):
        raise PolicyError(f"unknown set qualifier in {operator}")
    _, negated = _OPERATORS[base]
    if values is None or len(values) == 0:
        if if_exists or qualifier == "ForAllValues":
            return True
        if qualifier == "ForAnyValue":
            return False
        return negated
    if qualifier == "ForAllValues":
        return all(_single_value_holds(base, policy_values, value) for value in values)
    if qualifier == "ForAnyValue":
        return any(_single_value_holds(base, policy_values, value) for value in values)
    if len(values) != 1:
        raise PolicyError(f"{key} has several values: {operator} needs ForAllValues/ForAnyValue")
    return _single_value_holds(base, policy_values, values[0])


def conditions_hold(block: Mapping[str, Any], context: Mapping[str, Sequence[str]]) -> bool:
    """Every operator, every key (AND); any of a key's values (OR, inside each operator)."""
    return all(
        condition_holds(operator, key, _listed(values), context)
        for operator, keys in block.items()
        for key, values in keys.items()
    )


def statement_matches(statement: Mapping[str, Any], request: Request) -> bool:
    if "Action" in statement:
        if not any(action_matches(p, request.action) for p in _listed(statement["Action"])):
            return False
    elif "NotAction" in statement:
        if any(action_matches(p, request.action) for p in _listed(statement["NotAction"])):
            return False
    else:
        raise PolicyError(f"a statement without Action or NotAction: {statement}")
    if "Resource" in statement:
        if not any(resource_matches(p, request.resource) for p in _listed(statement["Resource"])):
            return False
    elif "NotResource" in statement:
        if any(resource_matches(p, request.resource) for p in _listed(statement["NotResource"])):
            return False
    else:
        raise PolicyError(f"a statement without Resource or NotResource: {statement}")
    return conditions_hold(statement.get("Condition", {}), request.context)


def evaluate(policy: Mapping[str, Any], request: Request) -> Outcome:
    """The policy's decision on ``request``: an explicit Deny wins, then an Allow."""
    statements = policy["Statement"]
    if isinstance(statements, Mapping):
        statements = [statements]
    allowed_by = ""
    for index, statement in enumerate(statements):
        effect = statement.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise PolicyError(f"statement {index} has no Effect Allow or Deny")
        if not statement_matches(statement, request):
            continue
        name = str(statement.get("Sid", index))
        if effect == "Deny":
            return Outcome(Decision.EXPLICIT_DENY, name)
        allowed_by = allowed_by or name
    if allowed_by:
        return Outcome(Decision.ALLOWED, allowed_by)
    return Outcome(Decision.IMPLICIT_DENY)


def evaluate_all(policy: Mapping[str, Any], requests: Sequence[Request]) -> tuple[Request, Outcome]:
    """The first of ``requests`` the policy refuses with its outcome, or the last one allowed:
    a call that needs several authorizations is allowed only when every one is."""
    if not requests:
        raise ValueError("no authorization to evaluate")
    for request in requests:
        outcome = evaluate(policy, request)
        if not outcome.allowed:
            return request, outcome
    return requests[-1], outcome
