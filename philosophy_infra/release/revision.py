"""Which commit the Application syncs: the one that last changed the stack's release objects.

Pinned to a commit, Argo CD starts a release only when the Kubernetes layer moves the pin, which it does after
that release's schema Job (its migrations) has succeeded: the Application depends on the Job. Following a branch
instead, Argo CD would start the new pods on its own poll, before or during the migrations.

Read from the checkout with git (no network): the newest commit that touched `deploy/<stack>/`. A change that
does not touch the release objects leaves the pin, and the plan, alone.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pulumi

from philosophy_infra.config.base import KUBERNETES_NAMESPACE, ConfigIssue, StackConfigError
from philosophy_infra.config.delivery import DeliveryConfig, RevisionPin
from philosophy_infra.config.placeholders import RunMode, run_mode
from philosophy_infra.layers import ROOT
from philosophy_infra.release.render import deploy_path

_COMMIT = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class ReleaseCommit:
    commit: str | None
    """None when it cannot be known: then `problem` says why."""
    problem: str | None = None
    uncommitted: bool = False
    """The working tree changes deploy/<stack>/: the pinned commit lacks those changes."""


def _git(root: Path, *args: str) -> tuple[int, str]:
    try:
        result = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 1, str(exc)
    return result.returncode, result.stdout.strip()


def release_commit(root: Path, stack: str) -> ReleaseCommit:
    path = deploy_path(stack)
    code, shallow = _git(root, "rev-parse", "--is-shallow-repository")
    if code != 0:
        return ReleaseCommit(None, f"{root} is not a git checkout (or git is missing)")
    if shallow == "true":
        # In a shallow clone the oldest commit seems to add every file: the pin would be whatever was cloned.
        return ReleaseCommit(None, f"{root} is a shallow clone: fetch the history (actions/checkout fetch-depth: 0)")
    code, commit = _git(root, "log", "-1", "--format=%H", "--", path)
    if code != 0 or not _COMMIT.fullmatch(commit):
        return ReleaseCommit(None, f"no commit has {path}/ yet: render it and commit it")
    _, status = _git(root, "status", "--porcelain", "--", path)
    return ReleaseCommit(commit, uncommitted=bool(status))


def application_revision(delivery: DeliveryConfig, stack: str, root: Path = ROOT, mode: RunMode | None = None) -> str:
    """The Application's `targetRevision` for this deploy. With `pin: lastRelease` and no commit to read, a real
    update is refused (config error); a preview or the offline plan shows `branch`, with a warning."""
    if delivery.pin is RevisionPin.BRANCH:
        return delivery.branch
    found = release_commit(root, stack)
    if found.commit is None:
        if (mode or run_mode()) is RunMode.UPDATE:
            issue = ConfigIssue(
                "delivery.pin", delivery.pin.value, f"needs the release's commit: {found.problem}",
                namespace=KUBERNETES_NAMESPACE,
            )  # fmt: skip
            raise StackConfigError(stack, [issue])
        pulumi.log.warn(f"the Application is shown at {delivery.branch!r}: {found.problem}")
        return delivery.branch
    if found.uncommitted:
        pulumi.log.warn(
            f"{deploy_path(stack)}/ has uncommitted changes: the Application syncs {found.commit[:12]}, without them"
        )
    return found.commit
