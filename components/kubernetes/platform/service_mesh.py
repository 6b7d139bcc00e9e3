"""Istio, in sidecar mode with the Istio CNI, so the service's pods stay within Pod Security `restricted`: without
the CNI, each pod's `istio-init` container needs NET_ADMIN and root, which `restricted` (and `baseline`) refuse.
With it, the injected `istio-validation` and `istio-proxy` (a native sidecar on Kubernetes 1.33 and newer) drop
every capability and run as 1337.

- `base` (the CRDs, as chart templates, so upgrades reach them), then `istiod` and `cni`, then the ingress
  `gateway` (ClusterIP, in `istio-ingress`: the edge's internal load balancer targets its pods directly).
- Namespaces: `istio-system` and `istio-ingress` are `restricted`; the CNI node agent, which writes the nodes'
  CNI config and enters pods' network namespaces (hostPath, NET_ADMIN, SYS_ADMIN), is alone in `istio-cni`,
  `privileged` with its reason.
- Images from Docker Hub: Istio stops publishing to its Google Cloud registry and chart bucket with 1.31.
- Spans from the proxies go to the OpenTelemetry Collector (a Telemetry resource samples them like the SDKs).
The service's namespace and its mutual TLS policy are the service's (philosophy_app.py); its pods start after
istiod, whose webhook injects their sidecars.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.platform.helm import pinned_release
from components.kubernetes.platform.pod_security import privileged_namespace_metadata, restricted_namespace_labels
from philosophy_infra.release.canary import GATEWAY
from philosophy_infra.service import INGRESS_NAMESPACE, ISTIO_CNI_NAMESPACE, ISTIO_NAMESPACE, OTLP_ENDPOINT

ISTIO_VERSION = "1.31.1"
ISTIO_REPOSITORY = "https://blob.istio.io/istio-release/charts"
ISTIO_HUB = "docker.io/istio"
SYSTEM_NAMESPACE, CNI_NAMESPACE, GATEWAY_NAMESPACE = ISTIO_NAMESPACE, ISTIO_CNI_NAMESPACE, INGRESS_NAMESPACE
# The gateway chart's release name: its pods are labelled `istio: gateway`.
GATEWAY_RELEASE = "gateway"
TRACING_PROVIDER = "otel-tracing"


def chart(name: str) -> tuple[str, str, str]:
    return (name, ISTIO_VERSION, ISTIO_REPOSITORY)


def otlp_service() -> tuple[str, int]:
    """The collectors' Service as istiod looks it up: a fully qualified name (a `.svc` short name is not found)."""
    host_port = OTLP_ENDPOINT.split("://", 1)[1]
    host, port = host_port.rsplit(":", 1)
    return f"{host}.cluster.local", int(port)


def istiod_values() -> dict[str, Any]:
    service, port = otlp_service()
    return {
        "global": {
            "hub": ISTIO_HUB,
            "tag": ISTIO_VERSION,
            # The injected containers carry their own seccomp profile, whatever the pod says.
            "proxy": {"seccompProfile": {"type": "RuntimeDefault"}},
        },
        # `istio-validation` (no capabilities) instead of `istio-init` (NET_ADMIN, root).
        "cni": {"enabled": True},
        # istiod's own container, so `istio-system` can stay `restricted`.
        "seccompProfile": {"type": "RuntimeDefault"},
        "meshConfig": {
            "enablePrometheusMerge": True,
            # Enabled by the Telemetry resource, which also sets the sampling (`defaultProviders` cannot).
            "extensionProviders": [{"name": TRACING_PROVIDER, "opentelemetry": {"service": service, "port": port}}],
        },
    }


def cni_values() -> dict[str, Any]:
    return {
        "global": {"hub": ISTIO_HUB, "tag": ISTIO_VERSION},
        # Chained after the VPC CNI, in its directories on EKS's AL2023 nodes.
        "cniBinDir": "/opt/cni/bin",
        "cniConfDir": "/etc/cni/net.d",
        "chained": True,
        "ambient": {"enabled": False},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def gateway_values(replicas: tuple[int, int]) -> dict[str, Any]:
    return {
        "service": {"type": "ClusterIP"},
        # Replaces the chart's pod context (only the sysctl that lets 1337 bind 80 and 443): keep the sysctl,
        # add what `restricted` requires.
        "securityContext": {
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
            "sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}],
        },
        "autoscaling": {"enabled": True, "minReplicas": replicas[0], "maxReplicas": replicas[1]},
        "podDisruptionBudget": {"minAvailable": 1},
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "1Gi"}},
    }


@dataclass(frozen=True, kw_only=True)
class ServiceMeshArgs:
    provider: k8s.Provider
    kubernetes_version: pulumi.Input[str]
    trace_sample_ratio: float
    gateway_replicas: tuple[int, int] = (2, 5)


class ServiceMesh(pulumi.ComponentResource):
    istiod: k8s.helm.v3.Release
    gateway: k8s.helm.v3.Release
    cni: k8s.helm.v3.Release
    ready: list[pulumi.Resource]
    """What must exist before the service's pods and routes: the CRDs, istiod's injection webhook, the CNI."""

    def __init__(self, name: str, args: ServiceMeshArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:ServiceMesh", name, None, opts)
        on_cluster = pulumi.ResourceOptions(parent=self, provider=args.provider)
        namespaces = {
            ns: k8s.core.v1.Namespace(
                f"{name}-{ns}",
                metadata={"name": ns, "labels": restricted_namespace_labels(args.kubernetes_version)},
                opts=on_cluster,
            )
            for ns in (SYSTEM_NAMESPACE,)
        }
        # The load balancer controller gives new gateway pods a readiness gate: a pod is Ready once the load
        # balancer finds it healthy, so a rollout or a scale-in of the gateway drops no request.
        namespaces[GATEWAY_NAMESPACE] = k8s.core.v1.Namespace(
            f"{name}-{GATEWAY_NAMESPACE}",
            metadata={
                "name": GATEWAY_NAMESPACE,
                "labels": {
                    **restricted_namespace_labels(args.kubernetes_version),
                    "elbv2.k8s.aws/pod-readiness-gate-inject": "enabled",
                },
            },
            opts=on_cluster,
        )
        namespaces[CNI_NAMESPACE] = k8s.core.v1.Namespace(
            f"{name}-{CNI_NAMESPACE}",
            metadata=privileged_namespace_metadata(
                CNI_NAMESPACE,
                args.kubernetes_version,
                "the Istio CNI node agent writes the nodes' CNI configuration and binaries (hostPath) and sets up "
                "each pod's traffic redirection in its network namespace (NET_ADMIN, SYS_ADMIN), which only the "
                "privileged level admits",
            ),
            opts=on_cluster,
        )

        def into(namespace: str, *after: pulumi.Resource) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(
                parent=self, provider=args.provider, depends_on=[namespaces[namespace], *after]
            )

        base = pinned_release(
            f"{name}-base", chart("base"), SYSTEM_NAMESPACE, {}, into(SYSTEM_NAMESPACE), create_namespace=False
        )
        self.istiod = pinned_release(
            f"{name}-istiod", chart("istiod"), SYSTEM_NAMESPACE, istiod_values(), into(SYSTEM_NAMESPACE, base),
            create_namespace=False,
        )  # fmt: skip
        self.cni = cni = pinned_release(
            f"{name}-cni", chart("cni"), CNI_NAMESPACE, cni_values(), into(CNI_NAMESPACE, base), create_namespace=False
        )
        # The gateway's image is `auto`: the injection webhook, so istiod, fills it in.
        self.gateway = pinned_release(
            f"{name}-gateway", chart("gateway"), GATEWAY_NAMESPACE, gateway_values(args.gateway_replicas),
            into(GATEWAY_NAMESPACE, self.istiod, cni), create_namespace=False,
        )  # fmt: skip
        after_istiod = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[self.istiod, cni])
        k8s.apiextensions.CustomResource(
            f"{name}-tracing",
            api_version="telemetry.istio.io/v1",
            kind="Telemetry",
            metadata={"name": "mesh-default", "namespace": SYSTEM_NAMESPACE},
            spec={
                "tracing": [
                    {
                        "providers": [{"name": TRACING_PROVIDER}],
                        "randomSamplingPercentage": round(args.trace_sample_ratio * 100, 2),
                    }
                ]
            },
            opts=after_istiod,
        )
        # Plain HTTP on the gateway's port 80 (80 in the pod too, through the sysctl): TLS ends at the load balancer.
        namespace, gateway_name = GATEWAY.split("/")
        k8s.apiextensions.CustomResource(
            f"{name}-ingress",
            api_version="networking.istio.io/v1",
            kind="Gateway",
            metadata={"name": gateway_name, "namespace": namespace},
            spec={
                "selector": {"istio": GATEWAY_RELEASE},
                "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}],
            },
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[self.gateway]),
        )
        self.ready = [base, self.istiod, cni]
        self.register_outputs({})
