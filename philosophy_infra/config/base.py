"""What every config section shares: the issue type, the error, the model base, and the parsing of a stack's
config map into a typed model.

pydantic checks shapes, types, enums and unknown keys; each section's `issues()` checks the rules that span
fields. Every problem becomes a `ConfigIssue` naming the full config key, the value and the rule, and
`parse_stack_config` raises them all at once, before the program registers a single resource.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

import pulumi
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from philosophy_infra import windows

AWS_NAMESPACE = "philosophy-infra"
KUBERNETES_NAMESPACE = "philosophy-kubernetes"
REGION_KEY = "aws:region"

# The retention values CloudWatch Logs accepts (PutRetentionPolicy).
LOG_RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
)


class _NotShown:
    def __repr__(self) -> str:
        return "NOT_SHOWN"


# The value of a key the program does not know is never echoed: it may be a password put in the wrong place.
NOT_SHOWN: Any = _NotShown()


@dataclass(frozen=True)
class ConfigIssue:
    key: str  # path below the namespace, e.g. "network.privateSubnets[1]"; or a full key such as aws:region
    value: Any
    rule: str
    namespace: str = AWS_NAMESPACE

    @property
    def full_key(self) -> str:
        return self.key if ":" in self.key else f"{self.namespace}:{self.key}"

    def __str__(self) -> str:
        if self.value is NOT_SHOWN:
            return f"{self.full_key} (value not shown): {self.rule}"
        return f"{self.full_key} = {json.dumps(self.value, default=str)}: {self.rule}"


class StackConfigError(pulumi.RunError):
    """The stack config breaks one or more rules; `str()` lists each with its key, value and rule.

    A `RunError`, so a real `pulumi up` prints the message alone, without a Python traceback."""

    def __init__(self, stack: str, issues: list[ConfigIssue], what: str = "invalid config") -> None:
        self.stack = stack
        self.issues = issues
        lines = "\n".join(f"  - {issue}" for issue in issues)
        super().__init__(f"{what} for stack '{stack}' ({len(issues)} problem(s)):\n{lines}")


class Model(BaseModel):
    """Frozen, no unknown keys, camelCase in the stack file, snake_case in Python."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True, use_enum_values=False
    )


class DataProtection(StrEnum):
    """What guards stateful resources (database, cache, buckets) against a deploy that would delete them."""

    PROTECTED = "protected"  # Pulumi protect + deletion protection + final snapshot
    SNAPSHOT_ONLY = "snapshotOnly"  # final snapshot on delete, nothing else: for disposable environments


SECRET_RECOVERY_WINDOW_DAYS = {DataProtection.PROTECTED: 30, DataProtection.SNAPSHOT_ONLY: 7}
"""How long a deleted Secrets Manager secret can be restored (30, the most AWS allows; 7 where nothing is kept)."""


def window_issues(
    section: str, fields: Mapping[str, tuple[str, Any, int]]
) -> tuple[list[ConfigIssue], dict[str, windows.Window]]:
    """Parse each `field -> (text, parser, minimum minutes)`; the issues found and the windows that parsed."""
    found: list[ConfigIssue] = []
    parsed: dict[str, windows.Window] = {}
    for field_name, (text, parser, minimum) in fields.items():
        key = f"{section}.{field_name}"
        try:
            window = parser(text)
        except ValueError as exc:
            found.append(ConfigIssue(key, text, str(exc)))
            continue
        if window.minutes < minimum:
            found.append(ConfigIssue(key, text, f"must last at least {minimum} minutes"))
            continue
        parsed[field_name] = window
    return found, parsed


class LayerModel(Model):
    """The whole config of one layer's stack; `issues()` yields every rule it breaks."""

    def issues(self) -> Iterator[ConfigIssue]:
        raise NotImplementedError


M = TypeVar("M", bound=LayerModel)


def parse_stack_config(model: type[M], *, namespace: str, stack: str, raw: Mapping[str, Any], region: bool) -> M:
    """Validate a stack's config map (full keys such as `philosophy-infra:network`, values as Pulumi passes
    them: strings, JSON for objects) into `model`, or raise `StackConfigError` listing every problem.

    `region`: the model has a `region` field read from `aws:region` (the AWS layer does; the Kubernetes layer
    learns the region from the AWS layer's outputs)."""
    section: dict[str, Any] = {}
    issues: list[ConfigIssue] = []
    for full_key, value in raw.items():
        key_namespace, _, key = full_key.partition(":")
        if key_namespace != namespace:
            continue
        if region and key == "region":
            issues.append(ConfigIssue(key, NOT_SHOWN, f"unknown key: the region is read from {REGION_KEY}"))
            continue
        section[key] = decode_config_value(value)
    if region:
        value = raw.get(REGION_KEY)
        if value is None:
            issues.append(ConfigIssue(REGION_KEY, None, "is required: the AWS region this stack deploys to"))
        section["region"] = value or ""
    if issues:
        raise StackConfigError(stack, _in(namespace, issues))
    try:
        parsed = model.model_validate(section)
    except ValidationError as exc:
        raise StackConfigError(stack, _in(namespace, [_issue_from_pydantic(model, e) for e in exc.errors()])) from None
    found = list(parsed.issues())
    if found:
        raise StackConfigError(stack, _in(namespace, found))
    return parsed


def _in(namespace: str, issues: list[ConfigIssue]) -> list[ConfigIssue]:
    return [dataclasses.replace(issue, namespace=namespace) for issue in issues]


def decode_config_value(value: Any) -> Any:
    # Pulumi hands structured config to the program as JSON text; plain scalars stay text for pydantic.
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _issue_from_pydantic(model: type[BaseModel], err: Any) -> ConfigIssue:
    loc = tuple(err["loc"])
    if loc == ("region",):
        key = REGION_KEY
    else:
        key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")
    rule = err["msg"]
    value = err.get("input") if err["type"] != "missing" else None
    if err["type"] == "extra_forbidden":
        allowed = _allowed_keys(model, loc[:-1])
        rule = "unknown key" + (f"; allowed here: {', '.join(allowed)}" if allowed else "")
        value = NOT_SHOWN
    elif err["type"] == "missing":
        rule = "is required"
    elif err["type"] == "string_type" and isinstance(value, (int, float)) and not isinstance(value, bool):
        # `kubernetesVersion: 1.30` is the number 1.3 to YAML: the version the user meant is already lost.
        rule = (
            "must be text, but YAML read this unquoted value as a number (1.30 becomes 1.3): "
            'put the value in quotes, e.g. "1.30"'
        )
    return ConfigIssue(key, value if not isinstance(value, BaseModel) else str(value), rule)


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = next((f for n, f in current.model_fields.items() if part in (n, f.alias)), None)
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        current = annotation
    return sorted(f.alias or n for n, f in current.model_fields.items() if n != "region")


# S3 general purpose bucket names: 3-63 lowercase letters, digits, '.' and '-', starting and ending with a
# letter or digit (the rest of S3's rules are checked in `bucket_name_problem`).
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", "--x-s3", "--table-s3", ".mrap")


def bucket_name_problem(name: str) -> str | None:
    """Why `name` is not a valid S3 general purpose bucket name, or None (S3's bucket naming rules)."""
    if not _BUCKET.fullmatch(name):
        return (
            "must be an S3 bucket name: 3-63 lowercase letters, digits, '.' or '-', starting and ending with a "
            "letter or digit"
        )
    if ".." in name or ".-" in name or "-." in name:
        return "must be an S3 bucket name: no two adjacent periods, and no period next to a dash"
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        pass
    else:
        return "must be an S3 bucket name, not an IP address"
    if name.startswith(_RESERVED_PREFIXES) or name.endswith(_RESERVED_SUFFIXES):
        return "must be an S3 bucket name: that prefix or suffix is reserved by S3"
    if "." in name:
        # Virtual-hosted HTTPS (what Pulumi's S3 backend uses) cannot match S3's wildcard certificate.
        return "must have no '.': S3's TLS certificate does not cover dotted bucket names"
    return None
