"""Delivery (`philosophy-kubernetes:delivery`): where Argo CD reads the service's release objects, and how
available Argo CD itself is.

The release objects are rendered from this layer's config into `deploy/<stack>/` of this repository
(`philosophy-infra render`); the Application syncs that path at a pinned commit (philosophy_infra.release.revision)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from enum import StrEnum

from philosophy_infra.config.base import ConfigIssue, Model

_HTTPS_GIT = re.compile(r"^https://[a-z0-9.-]+(:\d+)?/[A-Za-z0-9._/-]+?(\.git)?$")
# A branch or tag name git accepts (no `..`, no spaces or control characters, no leading `-`), or a commit.
_REVISION = re.compile(r"^(?!-)(?!.*\.\.)(?!.*//)[A-Za-z0-9._/-]{1,200}(?<![./])$")


class RevisionPin(StrEnum):
    """What the Application's `targetRevision` is."""

    LAST_RELEASE = "lastRelease"
    """The commit that last changed deploy/<stack>/, read from the checkout when the Kubernetes layer deploys: Argo
    CD starts a release only after that deploy has run the release's migrations (the schema Job)."""
    BRANCH = "branch"
    """`branch` itself: Argo CD starts a release whenever it sees the commit, possibly before its migrations ran.
    For an environment whose schema does not matter."""


class Availability(StrEnum):
    """How many of each Argo CD component run."""

    SINGLE = "single"
    """One of each, a single Redis: a restart pauses syncing for a minute, nothing is lost (git is the source)."""
    HIGHLY_AVAILABLE = "highlyAvailable"
    """Two or more replicas of the server and repo server, Redis HA with Sentinel behind HAProxy."""


class DeliveryConfig(Model):
    repo_url: str = "https://github.com/philosophy/philosophy-infra.git"
    """This repository, over HTTPS: Argo CD syncs `deploy/<stack>/` from it, with a GitHub App's read-only token
    (Secrets Manager, through External Secrets)."""
    branch: str = "main"
    """Where releases are merged: what `pin: branch` follows, and what a plan shows when no commit can be read."""
    pin: RevisionPin = RevisionPin.LAST_RELEASE
    argo_cd: Availability = Availability.SINGLE

    def issues(self) -> Iterator[ConfigIssue]:
        if not _HTTPS_GIT.fullmatch(self.repo_url):
            yield ConfigIssue(
                "delivery.repoUrl", self.repo_url, "must be the repository's HTTPS URL, e.g. https://github.com/o/r.git"
            )
        if self.branch.upper() == "HEAD" or not _REVISION.fullmatch(self.branch):
            yield ConfigIssue(
                "delivery.branch",
                self.branch,
                "must name a branch (letters, digits, '.', '_', '-', '/'); never HEAD, whatever it points at today",
            )
