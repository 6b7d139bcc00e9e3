"""What a change does, for review without credentials: the offline plan of the working tree against the
offline plan at a git revision, resource by resource (by URN), with the input paths that change and a loud
flag on anything that would delete or replace a stateful resource or touch a protected one.

Both plans are made the same way, each by the offline plan of its own checkout in its own process (the base
revision's code, config and components, not today's), so the diff is what merging the change would do to
the desired state. Secrets stay masked: a secret that changes is not visible here, by design.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1

# Resources whose loss loses data, or the means to read it.
STATEFUL_TYPES = frozenset(
    {
        "aws:rds/instance:Instance",
        "aws:elasticache/replicationGroup:ReplicationGroup",
        "aws:s3/bucket:Bucket",
        "aws:kms/key:Key",
        "eks:index:Cluster",
        "aws:eks/cluster:Cluster",
        "aws:secretsmanager/secret:Secret",
        "aws:ecr/repository:Repository",
        "aws:opensearch/domain:Domain",
    }
)
# Inputs whose change makes the provider replace the resource (terraform-provider-aws ForceNew, pulumi-eks
# replaceOnChanges), for the stateful types: a replacement is a delete.
REPLACED_ON_CHANGE: Mapping[str, frozenset[str]] = {
    "aws:opensearch/domain:Domain": frozenset({"domainName", "encryptAtRest"}),
    "aws:rds/instance:Instance": frozenset(
        {
            "identifier",
            "identifierPrefix",
            "engine",
            "dbName",
            "username",
            "kmsKeyId",
            "storageEncrypted",
            "characterSetName",
            "ncharCharacterSetName",
            "timezone",
            "availabilityZone",
            "customIamInstanceProfile",
        }
    ),
    "aws:elasticache/replicationGroup:ReplicationGroup": frozenset(
        {
            "replicationGroupId",
            "atRestEncryptionEnabled",
            "kmsKeyId",
            "subnetGroupName",
            "port",
            "networkType",
            "snapshotArns",
            "snapshotName",
            "preferredCacheClusterAzs",
        }
    ),
    "aws:s3/bucket:Bucket": frozenset({"bucket", "bucketPrefix", "objectLockEnabled"}),
    "aws:kms/key:Key": frozenset({"keyUsage", "customerMasterKeySpec", "keySpec", "multiRegion", "xksKeyId"}),
    "eks:index:Cluster": frozenset({"name", "encryptionConfigKeyArn", "kubernetesServiceIpAddressRange"}),
    "aws:eks/cluster:Cluster": frozenset({"name", "encryptionConfig", "kubernetesNetworkConfig"}),
    "aws:secretsmanager/secret:Secret": frozenset({"name", "namePrefix"}),
    "aws:ecr/repository:Repository": frozenset({"name", "encryptionConfigurations"}),
}
_OPTIONS = ("protect", "retainOnDelete", "deleteBeforeReplace", "ignoreChanges", "parent", "provider")


class PlanUnavailableError(Exception):
    """The plan of one side could not be made (its checkout's own error is in the message)."""


@dataclass(frozen=True)
class Change:
    path: str
    old: Any
    new: Any

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "old": self.old, "new": self.new}


@dataclass
class ResourceDiff:
    urn: str
    type: str
    kind: str  # "added" | "removed" | "changed"
    changes: list[Change] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)

    @property
    def replaces(self) -> bool:
        return any(c.path.split(".")[0].split("[")[0] in REPLACED_ON_CHANGE.get(self.type, ()) for c in self.changes)

    def to_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "kind": self.kind,
            "replaces": self.replaces,
            "changes": [c.to_json() for c in self.changes],
            "alerts": self.alerts,
        }


@dataclass
class PlanDiff:
    stack: str
    base: str
    resources: list[ResourceDiff]

    @property
    def alerts(self) -> list[tuple[ResourceDiff, str]]:
        return [(r, alert) for r in self.resources for alert in r.alerts]

    def to_json(self) -> dict[str, Any]:
        counts = {kind: sum(1 for r in self.resources if r.kind == kind) for kind in ("added", "removed", "changed")}
        return {
            "schemaVersion": SCHEMA_VERSION,
            "stack": self.stack,
            "base": self.base,
            "counts": counts,
            "resources": [r.to_json() for r in self.resources],
            "alerts": [{"urn": r.urn, "type": r.type, "alert": a} for r, a in self.alerts],
        }


def diff_plans(base: Mapping[str, Any], head: Mapping[str, Any], *, stack: str, base_name: str) -> PlanDiff:
    """Compare two offline plan documents (schema v1) by URN."""
    before = {r["urn"]: r for r in base.get("resources", [])}
    after = {r["urn"]: r for r in head.get("resources", [])}
    found: list[ResourceDiff] = []
    for urn in sorted(after.keys() - before.keys()):
        found.append(ResourceDiff(urn, after[urn]["type"], "added"))
    for urn in sorted(before.keys() - after.keys()):
        resource = before[urn]
        entry = ResourceDiff(urn, resource["type"], "removed")
        if resource["type"] in STATEFUL_TYPES:
            entry.alerts.append("a stateful resource is deleted (or renamed, which deletes it)")
        if resource.get("protect"):
            entry.alerts.append("a protected resource is removed: `pulumi up` refuses until it is unprotected")
        found.append(entry)
    for urn in sorted(before.keys() & after.keys()):
        old, new = before[urn], after[urn]
        changes = list(_changes("", old.get("inputs", {}), new.get("inputs", {})))
        changes += [
            Change(f"<{option}>", old.get(option), new.get(option))
            for option in _OPTIONS
            if old.get(option) != new.get(option)
        ]
        if not changes:
            continue
        entry = ResourceDiff(urn, new["type"], "changed", changes)
        if entry.replaces and new["type"] in STATEFUL_TYPES:
            fields = sorted(
                {c.path for c in changes if c.path.split(".")[0].split("[")[0] in REPLACED_ON_CHANGE[new["type"]]}
            )
            entry.alerts.append(f"a stateful resource is replaced (deleted, then created) by: {', '.join(fields)}")
        if old.get("protect") or new.get("protect"):
            entry.alerts.append("a protected resource changes")
        found.append(entry)
    return PlanDiff(stack, base_name, found)


def _changes(path: str, old: Any, new: Any) -> Iterator[Change]:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(old.keys() | new.keys()):
            yield from _changes(f"{path}.{key}" if path else key, old.get(key), new.get(key))
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            yield from _changes(f"{path}[{i}]", a, b)
    elif old != new:
        yield Change(path, old, new)


# --- making the two plans ---------------------------------------------------------------------------------


def plan_of_checkout(directory: Path, stack: str, layer: str = "all") -> dict[str, Any]:
    """The offline plan (JSON) of the checkout in `directory`, made by that checkout's own code."""
    command = [sys.executable, "-m", "philosophy_infra", "plan", "--stack", stack, "--json", "-", "--quiet"]
    command += ["--project-dir", str(directory)]
    if layer != "all":
        command += ["--layer", layer]
    # The checkout's own packages, ahead of the installed (editable) ones of the working tree.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(directory), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(command, cwd=directory, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        problem = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else f"exit {result.returncode}"
        raise PlanUnavailableError(f"the plan of {directory} failed: {problem}")
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def checkout_of(repository: Path, revision: str, into: Path) -> None:
    """`revision` checked out into `into`: a clone that shares the repository's objects (nothing is copied, the
    repository is not touched), with its history, which the plan reads (the Application's pinned commit)."""
    resolved = subprocess.run(
        ["git", "-C", str(repository), "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if resolved.returncode != 0:
        raise PlanUnavailableError(f"git has no revision {revision!r}")
    commit = resolved.stdout.strip()
    for command in (
        ["git", "clone", "--quiet", "--shared", "--no-checkout", str(repository), str(into)],
        ["git", "-C", str(into), "checkout", "--quiet", "--detach", commit],
    ):
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise PlanUnavailableError(f"cannot check out {revision!r}: {result.stderr.strip()}")


def default_base(repository: Path) -> str:
    """The merge base of HEAD with main (origin/main if there is no local main)."""
    for main in ("main", "origin/main"):
        result = subprocess.run(
            ["git", "-C", str(repository), "merge-base", "HEAD", main], capture_output=True, text=True, check=False
        )
        if result.returncode == 0:
            return result.stdout.strip()
    raise PlanUnavailableError("no main branch to diff against: pass --base <revision>")


def diff_against(repository: Path, stack: str, base: str | None = None, layer: str = "all") -> PlanDiff:
    base = base or default_base(repository)
    with tempfile.TemporaryDirectory(prefix="philosophy-diff-") as scratch:
        checkout_of(repository, base, Path(scratch))
        before = plan_of_checkout(Path(scratch), stack, layer)
    after = plan_of_checkout(repository, stack, layer)
    return diff_plans(before, after, stack=stack, base_name=base)


# --- rendering --------------------------------------------------------------------------------------------


def render_text(diff: PlanDiff, *, markdown: bool = False, limit: int = 120) -> str:
    counts = diff.to_json()["counts"]
    title = f"Offline plan diff of stack {diff.stack} against {diff.base[:12]}"
    summary = f"{counts['added']} to add, {counts['changed']} to change, {counts['removed']} to delete"
    lines = [f"### {title}" if markdown else title, "", summary]
    if diff.alerts:
        lines += ["", "**Needs care:**" if markdown else "NEEDS CARE:"]
        lines += [
            f"- {'⚠️ ' if markdown else '!! '}`{r.urn}`: {alert}" if markdown else f"  !! {r.urn}: {alert}"
            for r, alert in diff.alerts
        ]
    if not diff.resources:
        lines += ["", "No changes."]
        return "\n".join(lines)
    lines.append("")
    if markdown:
        lines.append("```diff")
    symbol = {"added": "+", "removed": "-", "changed": "~"}
    for resource in diff.resources:
        replace = " (replace)" if resource.replaces else ""
        lines.append(f"{symbol[resource.kind]} {resource.type} {resource.urn.rsplit('::', 1)[-1]}{replace}")
        for change in resource.changes:
            lines.append(f"    {change.path}: {_short(change.old, limit)} => {_short(change.new, limit)}")
    if markdown:
        lines.append("```")
    return "\n".join(lines)


def _short(value: Any, limit: int) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 1] + "…"
