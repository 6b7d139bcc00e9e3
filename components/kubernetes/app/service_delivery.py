"""Argo CD's own objects for the service, which Pulumi owns: an AppProject that may deploy only this service's
release kinds, only into its namespace, only from this repository; and the Application that syncs the stack's
rendered release objects (`deploy/<stack>/`, philosophy_infra.release) there.

- The seed's automated sync: prune, self-heal, never an empty sync, its retry backoff.
- No `CreateNamespace`: the namespace is Pulumi's, with its Pod Security and injection labels.
- Rollouts rewrites the VirtualService's weights and the DestinationRule's subset labels while a canary runs:
  Argo CD ignores exactly those, and leaves them alone when it syncs (`RespectIgnoreDifferences`).
- Deleting the Application deletes what it synced (its finalizer). Pulumi deletes it before anything it depends
  on, so Argo CD's controller is still there to finish, and `pulumi destroy` never waits on a finalizer no one
  will clear.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from philosophy_infra.release.canary import PRIMARY_ROUTE
from philosophy_infra.service import API, APP_NAMESPACE, ARGOCD_NAMESPACE

PROJECT = "philosophy"
IN_CLUSTER = "https://kubernetes.default.svc"
# The seed's.
RETRY = {"limit": 5, "backoff": {"duration": "5s", "factor": 2, "maxDuration": "3m"}}
SYNC_OPTIONS = [
    "PrunePropagationPolicy=foreground",
    "PruneLast=true",
    "ApplyOutOfSyncOnly=true",
    "RespectIgnoreDifferences=true",
]
DELETE_RELEASE_OBJECTS = "resources-finalizer.argocd.argoproj.io"


def ignored_differences() -> list[dict[str, Any]]:
    """What Argo Rollouts changes on the objects Argo CD syncs, during a canary."""
    return [
        {
            "group": "networking.istio.io",
            "kind": "VirtualService",
            "name": API,
            "namespace": APP_NAMESPACE,
            "jqPathExpressions": [f'.spec.http[] | select(.name == "{PRIMARY_ROUTE}") | .route[].weight'],
        },
        {
            "group": "networking.istio.io",
            "kind": "DestinationRule",
            "name": API,
            "namespace": APP_NAMESPACE,
            "jqPathExpressions": [".spec.subsets[].labels"],
        },
    ]


@dataclass(frozen=True, kw_only=True)
class ServiceDeliveryArgs:
    provider: k8s.Provider
    repo_url: str
    target_revision: str
    path: str
    """The stack's rendered directory in the repository (deploy/<stack>)."""
    release_kinds: Sequence[tuple[str, str]]
    """(API group, kind) of every release object: all the project may create."""
    after: Sequence[pulumi.Resource]
    """Everything the release objects stand on or need to exist: Argo CD, Argo Rollouts, Istio, the CRDs of
    the release kinds, the service's namespace, accounts, config, secrets and policies, the schema Job."""


class ServiceDelivery(pulumi.ComponentResource):
    application: k8s.apiextensions.CustomResource

    def __init__(self, name: str, args: ServiceDeliveryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:ServiceDelivery", name, None, opts)
        after = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(args.after))
        project = k8s.apiextensions.CustomResource(
            f"{name}-project",
            api_version="argoproj.io/v1alpha1",
            kind="AppProject",
            metadata={"name": PROJECT, "namespace": ARGOCD_NAMESPACE},
            spec={
                "description": "The philosophy service's release objects, rendered by philosophy-infra",
                "sourceRepos": [args.repo_url],
                "destinations": [{"server": IN_CLUSTER, "namespace": APP_NAMESPACE}],
                # Nothing cluster-wide, and in the namespace only the release kinds: Pulumi's objects there
                # (accounts, config, secrets, policies) are out of Argo CD's reach.
                "clusterResourceWhitelist": [],
                "namespaceResourceWhitelist": [{"group": g, "kind": k} for g, k in sorted(set(args.release_kinds))],
            },
            opts=after,
        )
        self.application = k8s.apiextensions.CustomResource(
            f"{name}-application",
            api_version="argoproj.io/v1alpha1",
            kind="Application",
            metadata={"name": APP_NAMESPACE, "namespace": ARGOCD_NAMESPACE, "finalizers": [DELETE_RELEASE_OBJECTS]},
            spec={
                "project": PROJECT,
                "source": {"repoURL": args.repo_url, "targetRevision": args.target_revision, "path": args.path},
                "destination": {"server": IN_CLUSTER, "namespace": APP_NAMESPACE},
                "syncPolicy": {
                    "automated": {"prune": True, "selfHeal": True, "allowEmpty": False},
                    "syncOptions": SYNC_OPTIONS,
                    "retry": RETRY,
                },
                "ignoreDifferences": ignored_differences(),
                "revisionHistoryLimit": 10,
            },
            opts=pulumi.ResourceOptions.merge(after, pulumi.ResourceOptions(depends_on=[project])),
        )
        self.register_outputs({"application": APP_NAMESPACE})
