"""When AWS stops standard support for the versions the stacks run, and the warning a plan gives before that.

At the end of standard support AWS upgrades by itself: EKS a cluster whose upgrade policy is STANDARD (the next
minor), RDS a PostgreSQL major whose Extended Support is disabled (the next major). The program then still asks
for the old version, which is a downgrade AWS refuses, and every `pulumi up` fails until the stack file names the
new one. So the offline plan and a real preview warn from `WARN_DAYS` before the date, while the upgrade is
still a reviewed change of the stack file.

The calendar is data, with its sources; update it when AWS publishes a new version.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator

WARN_DAYS = 60

# Amazon EKS Kubernetes release calendar (awsdocs/amazon-eks-user-guide, versioning/kubernetes-versions.adoc;
# 1.36 from the EKS release notes): standard support lasts 14 months from the EKS release.
EKS_STANDARD_SUPPORT_END = {
    "1.35": datetime.date(2027, 3, 27),
    "1.36": datetime.date(2027, 8, 2),
}
# Release calendar for Amazon RDS for PostgreSQL (RDS PostgreSQL release notes, postgresql-release-calendar):
# RDS standard support of a major ends on the last day of February, five years after the community release.
# `aws rds describe-db-major-engine-versions --engine postgres` returns these dates (SupportedEngineLifecycles).
POSTGRES_STANDARD_SUPPORT_END = {
    "17": datetime.date(2030, 2, 28),
    "18": datetime.date(2031, 2, 28),
}


# The Kubernetes minors each Istio minor supports (istio/istio.io data/compatibility/supportStatus.yml: 1.29 supports
# 1.31-1.35, 1.30 supports 1.32-1.36). 1.31's row is in no copy stored here; the table moves up one minor per Istio
# release, so 1.31 supports 1.33-1.37. Istio supports a minor until six weeks after the second release after it:
# about six months, so plan an Istio upgrade every quarter, and before a cluster upgrade leaves this range.
ISTIO_KUBERNETES = {"1.31": ("1.33", "1.34", "1.35", "1.36", "1.37")}


def istio_supports(istio_version: str, kubernetes_version: str) -> bool:
    return kubernetes_version in ISTIO_KUBERNETES.get(_minor(istio_version), ())


def istio_support_problem(istio_version: str, kubernetes_version: str) -> str | None:
    """Why the pinned Istio cannot run on the cluster's Kubernetes version, or None."""
    if istio_supports(istio_version, kubernetes_version):
        return None
    supported = ", ".join(ISTIO_KUBERNETES.get(_minor(istio_version), ())) or "no version known here"
    return f"Istio {istio_version} (service_mesh.py) supports Kubernetes {supported}: upgrade Istio first"


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def today() -> datetime.date:
    return datetime.datetime.now(datetime.UTC).date()


def support_warnings(
    *, kubernetes_version: str | None, postgres_major: str | None, on: datetime.date
) -> Iterator[tuple[str, str]]:
    """(config key, message) for each configured version whose standard support ends within `WARN_DAYS` of `on`
    (or has ended)."""
    checks = (
        (
            "cluster.kubernetesVersion",
            kubernetes_version,
            EKS_STANDARD_SUPPORT_END,
            "EKS upgrades a STANDARD cluster to the next minor itself",
        ),
        (
            "database.engineVersion",
            postgres_major,
            POSTGRES_STANDARD_SUPPORT_END,
            "RDS upgrades the major itself (Extended Support is disabled)",
        ),
    )
    for key, version, calendar, what_aws_does in checks:
        end = calendar.get(version) if version is not None else None
        if end is None:
            continue
        days = (end - on).days
        if days > WARN_DAYS:
            continue
        when = f"ended on {end.isoformat()}" if days < 0 else f"ends on {end.isoformat()}, in {days} day(s)"
        yield (
            key,
            f"{key} = {version!r}: standard support {when}. {what_aws_does}, after which this config asks for a "
            "downgrade AWS refuses: upgrade it in a reviewed change now (README, 'Upgrades AWS makes by itself')",
        )
