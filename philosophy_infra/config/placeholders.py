"""Example values that must never reach AWS.

The committed stack files keep AWS's documentation accounts, registries in them and `example.com` names, so
that a fresh clone plans offline. The offline plan and a real `pulumi preview` warn about each; a real
`pulumi up` refuses them, naming every key, before any resource is registered."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from enum import StrEnum
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config
from pulumi.runtime import settings
from pulumi.runtime.mocks import MockMonitor

from philosophy_infra.config.base import ConfigIssue, StackConfigError, decode_config_value

# The accounts AWS's documentation uses in examples; no real account has these numbers.
PLACEHOLDER_ACCOUNTS = ("111122223333", "123456789012", "444455556666", "777788889999")
# RFC 2606 names, and the GitHub owner the stack files use for "your organisation".
_PLACEHOLDER_DOMAIN = re.compile(r"(?:^|[.@/:])example\.(?:com|org|net)(?:$|[/:.])")
_PLACEHOLDER_OWNER = re.compile(r"^example-org/")
_ACCOUNT = re.compile(r"(?<!\d)(" + "|".join(PLACEHOLDER_ACCOUNTS) + r")(?!\d)")


class RunMode(StrEnum):
    """Who is running the program, which decides what a placeholder costs."""

    OFFLINE = "offline"  # Pulumi's mock runtime: the offline plan, the tests
    PREVIEW = "preview"  # a real `pulumi preview`
    UPDATE = "update"  # a real `pulumi up` (or destroy, refresh): placeholders would reach AWS


def run_mode() -> RunMode:
    if isinstance(settings.get_monitor(), MockMonitor):
        return RunMode.OFFLINE
    return RunMode.PREVIEW if settings.is_dry_run() else RunMode.UPDATE


def placeholder_issues(
    raw: Mapping[str, Any], namespaces: tuple[str, ...], secret_keys: Collection[str] = ()
) -> list[ConfigIssue]:
    """Every config value (at any depth) that is one of the examples, by full key. Secret values are never
    looked at: a warning would print them."""
    found: list[ConfigIssue] = []
    for full_key, value in sorted(raw.items()):
        namespace, _, key = full_key.partition(":")
        if namespace not in namespaces or full_key in secret_keys:
            continue
        for path, text in _strings(key, decode_config_value(value)):
            rule = _placeholder_rule(text)
            if rule:
                found.append(ConfigIssue(path, text, rule, namespace=namespace))
    return found


def check_placeholders(stack: str, raw: Mapping[str, Any], namespaces: tuple[str, ...], mode: RunMode) -> None:
    """Refuse placeholders in a real update; warn about them otherwise."""
    secret_keys = {key for key in raw if runtime_config.is_config_secret(key)}
    found = placeholder_issues(raw, namespaces, secret_keys)
    if not found:
        return
    if mode is RunMode.UPDATE:
        raise StackConfigError(stack, found, what="placeholder values that must not reach AWS")
    for issue in found:
        pulumi.log.warn(f"placeholder: {issue} (a real `pulumi up` refuses it)")


def _placeholder_rule(text: str) -> str | None:
    if match := _ACCOUNT.search(text):
        return f"AWS's documentation account {match.group(1)}: replace it with your own"
    if _PLACEHOLDER_DOMAIN.search(text):
        return "an example.com name: replace it with your own domain"
    if _PLACEHOLDER_OWNER.match(text):
        return "the example GitHub owner: replace it with your organisation"
    return None


def _strings(path: str, value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(f"{path}.{k}", v)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(f"{path}[{i}]", v)
