"""Argo CD, in `argocd` (Pod Security `restricted`): it syncs the service's release objects from this repository
(the Application is wired in by the layer's entry point), reading git with a GitHub App's token.

- No way in from outside the cluster: the server's Service is ClusterIP and there is no Ingress. Operators reach
  the UI and API from inside the VPC (the deploy runner, or a host there with cluster access) with
  `kubectl -n argocd port-forward svc/argocd-server 8080:443` and open https://localhost:8080 (`global.domain`,
  so the links Argo CD writes point there). A port-forward enters the pod's own network namespace, so the
  NetworkPolicies below never see it.
- No admin password in values, the plan or the state: the server generates one into `argocd-initial-admin-secret`
  on first start (`argocd admin initial-password -n argocd`); change it, then delete that Secret.
- No SSO yet, so no Dex. To add it: `configs.cm."oidc.config"` (the server speaks OIDC itself) with the client
  secret synced by an ExternalSecret into a Secret labelled `app.kubernetes.io/part-of: argocd` and referenced
  as `$<secret>:<key>`, plus `configs.rbac` for the provider's groups; Dex (`dex.enabled`) only for a connector
  that is not OIDC.
- One Application, synced from git: no notifications controller, no commit server, and no ApplicationSet
  controller (the chart always renders it since 6.9.0; zero replicas runs nothing).
- `Availability.SINGLE`: one of each and one Redis; a restart pauses syncing, git keeps everything.
  `HIGHLY_AVAILABLE`: the chart README's "HA mode without autoscaling": two servers and two repo servers, each
  kept through node drains by a disruption budget, and Redis HA (three Redis with Sentinel behind three
  HAProxies, each of the three on its own node: the node group needs three nodes). One application controller
  either way: it shards by destination cluster, and there is one.
- NetworkPolicies: chart 10 turned `global.networkPolicy.create` on (upstream's per-component ingress rules);
  kept, said explicitly, and with the chart's default-deny ingress on top, as this layer's other namespaces
  have. The redis-ha subchart brings none of its own, so with HA this component admits Argo CD to HAProxy and
  HAProxy and the Redis pods to Redis.
- CRDs: the chart's templates (so a chart upgrade upgrades them), kept on uninstall, with the chart's
  `ServerSideApply=true` sync option for the day Argo CD manages itself (the ApplicationSet CRD is too large
  for client-side apply).
- Git credentials: `philosophy-repository`, a repository Secret synced by External Secrets from the JSON secret
  at `repository_secret_arn` (keys `githubAppID`, `githubAppInstallationID`, `githubAppPrivateKey`), read by
  the `repository-reader` service account's IRSA role only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.platform.helm import pinned_release
from components.kubernetes.platform.pod_security import restricted_namespace_labels
from components.kubernetes.platform.secrets_sync import external_secret, irsa_secret_store
from philosophy_infra.config.delivery import Availability
from philosophy_infra.service import ARGOCD_NAMESPACE, REPOSITORY_READER

CHART = ("argo-cd", "10.1.1", "https://argoproj.github.io/argo-helm")
# Upstream's object names (`argocd-server`, `argocd-redis`, ...), which its docs and CLI expect; the release
# name alone would give `argo-cd-argocd-server`.
FULLNAME = "argocd"
UI_PORT = 8080
REPOSITORY_SECRET = "philosophy-repository"
GITHUB_APP_FIELDS = ("githubAppID", "githubAppInstallationID", "githubAppPrivateKey")
HA_REPLICAS = 2
# The pods' `app.kubernetes.io/name`, as the chart sets them (`<nameOverride>-<component name>`).
ARGOCD_PODS = ("argocd-server", "argocd-repo-server", "argocd-application-controller")
# The redis-ha subchart's pod labels (its templates: `app` is the chart's name, `release` the release's).
REDIS_HA_POD = {"app": "redis-ha", "release": CHART[0]}
HAPROXY_POD = {"app": "redis-ha-haproxy", "release": CHART[0]}
REDIS_PORT, SENTINEL_PORT = 6379, 26379


def _resources(cpu: str, memory: str, memory_limit: str) -> dict[str, Any]:
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory_limit}}


def argo_cd_values(availability: Availability, placement: Mapping[str, Any]) -> dict[str, Any]:
    """The argo-cd chart's values (and its redis-ha subchart's, under `redis-ha`)."""
    ha = availability is Availability.HIGHLY_AVAILABLE
    replicas = HA_REPLICAS if ha else 1
    node_selector, tolerations = dict(placement["nodeSelector"]), list(placement.get("tolerations", []))
    # A node drain keeps one of each.
    budget = {"pdb": {"enabled": True, "minAvailable": 1}} if ha else {}
    values: dict[str, Any] = {
        "fullnameOverride": FULLNAME,
        "crds": {
            "install": True,
            "keep": True,
            "annotations": {"argocd.argoproj.io/sync-options": "ServerSideApply=true"},
        },
        "global": {
            "domain": f"localhost:{UI_PORT}",
            "networkPolicy": {"create": True, "defaultDenyIngress": True},
            # Every Argo CD pod, and the Redis secret Job, on the configured node group.
            "nodeSelector": node_selector,
            "tolerations": tolerations,
        },
        "dex": {"enabled": False},
        "notifications": {"enabled": False},
        "commitServer": {"enabled": False},
        "applicationSet": {"replicas": 0},
        # One shard per destination cluster: a second replica would have nothing to do.
        "controller": {"replicas": 1, "resources": _resources("100m", "384Mi", "1Gi")},
        "server": {
            "replicas": replicas,
            "service": {"type": "ClusterIP"},
            "ingress": {"enabled": False},
            **budget,
            "resources": _resources("50m", "128Mi", "256Mi"),
        },
        # Renders the manifests (kustomize, Helm): the one that needs room.
        "repoServer": {"replicas": replicas, **budget, "resources": _resources("50m", "128Mi", "512Mi")},
        "redis": {"resources": _resources("50m", "64Mi", "256Mi")},
        "redisSecretInit": {"resources": _resources("10m", "32Mi", "64Mi")},
        "redis-ha": {"enabled": ha},
    }
    if ha:
        # The subchart takes no `global` placement of the parent's.
        values["redis-ha"] |= {
            "nodeSelector": node_selector,
            "tolerations": tolerations,
            "redis": {"resources": _resources("50m", "64Mi", "256Mi")},
            "sentinel": {"resources": _resources("10m", "32Mi", "64Mi")},
            "splitBrainDetection": {"resources": _resources("10m", "16Mi", "64Mi")},
            "haproxy": {"resources": _resources("10m", "32Mi", "256Mi")},
        }
    return values


def redis_ha_policies() -> dict[str, dict[str, Any]]:
    """Ingress of the redis-ha subchart's pods, under the chart's default deny: Argo CD reaches Redis through
    HAProxy; HAProxy checks and reaches the Redis pods; the Redis pods replicate and their Sentinels talk."""
    argocd = [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": pod}}} for pod in ARGOCD_PODS]
    redis_ports = [{"protocol": "TCP", "port": REDIS_PORT}, {"protocol": "TCP", "port": SENTINEL_PORT}]
    return {
        "redis-ha-haproxy": {
            "podSelector": {"matchLabels": HAPROXY_POD},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": argocd, "ports": [{"protocol": "TCP", "port": REDIS_PORT}]}],
        },
        "redis-ha-server": {
            "podSelector": {"matchLabels": REDIS_HA_POD},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [
                        {"podSelector": {"matchLabels": HAPROXY_POD}},
                        {"podSelector": {"matchLabels": REDIS_HA_POD}},
                    ],
                    "ports": redis_ports,
                }
            ],
        },
    }


@dataclass(frozen=True, kw_only=True)
class ArgoCdArgs:
    provider: k8s.Provider
    kubernetes_version: pulumi.Input[str]
    availability: Availability
    placement: Mapping[str, Any]
    """`nodeSelector` and `tolerations` of the configured node group (three nodes or more when highly available)."""
    repo_url: str
    """The git repository Argo CD reads, over HTTPS."""
    repository_secret_arn: pulumi.Input[str]
    """Secrets Manager: a JSON object with `githubAppID`, `githubAppInstallationID` and `githubAppPrivateKey`."""
    repository_reader_role_arn: pulumi.Input[str]
    """The IRSA role of `argocd:repository-reader`, allowed to read that secret only."""
    region: pulumi.Input[str]
    after: Sequence[pulumi.Resource] = ()
    """The External Secrets Operator (its CRDs and webhook)."""


class ArgoCd(pulumi.ComponentResource):
    namespace: k8s.core.v1.Namespace
    release: k8s.helm.v3.Release
    repository_secret: k8s.apiextensions.CustomResource

    def __init__(self, name: str, args: ArgoCdArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:ArgoCd", name, None, opts)
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={"name": ARGOCD_NAMESPACE, "labels": restricted_namespace_labels(args.kubernetes_version)},
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(args.after)),
        )
        inside = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[self.namespace])
        self.repository_secret = self._repository_secret(name, args)
        if args.availability is Availability.HIGHLY_AVAILABLE:
            for policy, spec in redis_ha_policies().items():
                metadata: Any = {"name": policy, "namespace": ARGOCD_NAMESPACE}
                policy_spec: Any = spec
                k8s.networking.v1.NetworkPolicy(
                    f"{name}-netpol-{policy}", metadata=metadata, spec=policy_spec, opts=inside
                )
        self.release = pinned_release(
            f"{name}-release",
            CHART,
            ARGOCD_NAMESPACE,
            argo_cd_values(args.availability, args.placement),
            inside,
            create_namespace=False,
        )
        self.register_outputs({})

    def _repository_secret(self, name: str, args: ArgoCdArgs) -> k8s.apiextensions.CustomResource:
        """A repository Secret (Argo CD finds it by its label): plain `type` and `url`, and the GitHub App's
        fields, each a property of the JSON secret."""
        opts = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[self.namespace, *args.after])
        store = irsa_secret_store(
            name,
            namespace=ARGOCD_NAMESPACE,
            account=REPOSITORY_READER,
            role_arn=args.repository_reader_role_arn,
            region=args.region,
            opts=opts,
        )
        return external_secret(
            f"{name}-repository",
            name=REPOSITORY_SECRET,
            namespace=ARGOCD_NAMESPACE,
            data=[
                {"secretKey": field, "remoteRef": {"key": args.repository_secret_arn, "property": field}}
                for field in GITHUB_APP_FIELDS
            ],
            template={
                "type": "git",
                "url": args.repo_url,
                **{field: f"{{{{ .{field} }}}}" for field in GITHUB_APP_FIELDS},
            },
            labels={"argocd.argoproj.io/secret-type": "repository"},
            store=store,
            opts=opts,
        )
