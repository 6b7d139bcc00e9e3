"""A Helm release of a pinned chart version: a new chart version is a reviewed change of the component that
names it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s


def pinned_release(
    resource_name: str,
    chart: tuple[str, str, str],
    namespace: str,
    values: Mapping[str, Any],
    opts: pulumi.ResourceOptions,
    *,
    create_namespace: bool = True,
    skip_crds: bool = False,
    release_name: str | None = None,
    timeout: int | None = None,
) -> k8s.helm.v3.Release:
    """`chart` is (name, version, repository URL); the release takes the chart's name. `skip_crds`: the chart's
    `crds/` are applied by the component instead (Helm installs them on install only, never on upgrade).
    `release_name`: for a chart installed more than once (one release per Neo4j server). `timeout`: seconds Helm
    waits for the release's resources (the provider's default, 300, when unset), for a release whose first install
    takes longer (volumes, image pulls, a cluster forming)."""
    chart_name, version, repo = chart
    return k8s.helm.v3.Release(
        resource_name,
        name=release_name or chart_name,
        chart=chart_name,
        version=version,
        repository_opts={"repo": repo},
        namespace=namespace,
        create_namespace=create_namespace,
        # Unset unless asked for: the other releases' inputs stay as they are (no update for a default).
        skip_crds=skip_crds or None,
        timeout=timeout,
        values=dict(values),
        opts=opts,
    )
