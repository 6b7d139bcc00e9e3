"""One hardened workload: its ServiceAccount (annotated with its IRSA role, if any), Deployment, Service and
PodDisruptionBudget.

Every container runs as non-root with a read-only root filesystem, no privilege escalation, no
capabilities and the RuntimeDefault seccomp profile; pods spread across zones and nodes; no API token is
mounted (IRSA's web-identity token is projected separately by EKS).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

RUN_AS = 10001


class ReplicasOwner(StrEnum):
    """Who sets the Deployment's replica count after it is created."""

    PULUMI = "pulumi"  # every deploy sets it from config
    AUTOSCALER = "autoscaler"  # config gives the first count; an HPA owns it after that


# /tmp is the only writable path in a container unless a workload mounts more.
TMP_VOLUME = {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}
TMP_MOUNT = {"name": "tmp", "mountPath": "/tmp"}


def container_security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def pod_security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS,
        "runAsGroup": RUN_AS,
        "fsGroup": RUN_AS,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


# Why the service's pods read their credentials from the environment, for static analysis (checkov CKV_K8S_35).
SECRETS_AS_ENV = (
    "the service reads its credentials from the environment (the seed's contract); External Secrets writes "
    "those Secrets from Secrets Manager, so no value appears in a manifest, the plan or the state"
)


def analysis_exemptions(exemptions: Mapping[str, str]) -> dict[str, str]:
    """checkov's per-object suppressions, each with its written reason (`checkov.io/skipN: <check>=<reason>`)."""
    return {
        f"checkov.io/skip{i}": f"{check}={reason}" for i, (check, reason) in enumerate(sorted(exemptions.items()), 1)
    }


def hardened(container: Mapping[str, Any]) -> dict[str, Any]:
    """The container with the restricted security context and a writable /tmp."""
    mounts = [TMP_MOUNT, *container.get("volumeMounts", [])]
    return {**container, "securityContext": container_security_context(), "volumeMounts": mounts}


@dataclass(frozen=True, kw_only=True)
class WorkloadArgs:
    name: str
    namespace: str
    container: Mapping[str, Any]
    """The main container (name, image, ports, env, resources, probes, mounts); hardened here."""
    replicas: int
    provider: k8s.Provider
    replicas_owner: ReplicasOwner = ReplicasOwner.PULUMI
    init_containers: Sequence[Mapping[str, Any]] = ()
    volumes: Sequence[Mapping[str, Any]] = ()
    service_ports: Sequence[Mapping[str, Any]] = ()
    """Ports of a ClusterIP Service named after the workload; no Service if empty."""
    service_session_affinity: bool = False
    pod_annotations: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    node_selector: pulumi.Input[Mapping[str, str]] | None = None
    """Node labels the pods must run on (a node group's, from the AWS layer); anywhere if None."""
    tolerations: pulumi.Input[Sequence[Mapping[str, str]]] | None = None
    role_arn: pulumi.Input[str] | None = None
    """The IRSA role (made by the AWS layer) the ServiceAccount is annotated with; none: no AWS credentials."""
    depends_on: Sequence[pulumi.Resource] = ()
    """The namespace, and the config and secrets the pods read."""
    analysis_exemptions: Mapping[str, str] = field(default_factory=dict)
    """Static-analysis checks (checkov ids) this Deployment does not meet on purpose, each with the reason."""


class Workload(pulumi.ComponentResource):
    deployment: k8s.apps.v1.Deployment

    def __init__(self, name: str, args: WorkloadArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:Workload", name, None, opts)
        on_cluster = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(args.depends_on))
        labels = {"app": args.name, "app.kubernetes.io/name": args.name, "app.kubernetes.io/part-of": "philosophy"}

        annotations: dict[str, pulumi.Input[str]] = {}
        if args.role_arn is not None:
            annotations["eks.amazonaws.com/role-arn"] = args.role_arn
        account = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata={"name": args.name, "namespace": args.namespace, "labels": labels, "annotations": annotations},
            automount_service_account_token=False,
            opts=on_cluster,
        )

        spread = [
            {
                "maxSkew": 1,
                "topologyKey": key,
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": {"app": args.name}},
            }
            for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
        ]
        pod_spec: dict[str, Any] = {
            "serviceAccountName": args.name,
            "automountServiceAccountToken": False,
            "securityContext": pod_security_context(),
            "initContainers": [hardened(c) for c in args.init_containers],
            "containers": [hardened(args.container)],
            "volumes": [TMP_VOLUME, *args.volumes],
            "topologySpreadConstraints": spread,
        }
        if args.node_selector is not None:
            pod_spec["nodeSelector"] = args.node_selector
        if args.tolerations is not None:
            pod_spec["tolerations"] = args.tolerations
        metadata: Any = {"name": args.name, "namespace": args.namespace, "labels": labels}
        deployment_spec: Any = {
            "replicas": args.replicas,
            "selector": {"matchLabels": {"app": args.name}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}},
            "template": {
                "metadata": {"labels": labels, "annotations": dict(args.pod_annotations)},
                "spec": pod_spec,
            },
        }
        deployment_metadata: Any = {**metadata, "annotations": analysis_exemptions(args.analysis_exemptions)}
        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=deployment_metadata,
            spec=deployment_spec,
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=args.provider,
                depends_on=[account, *args.depends_on],
                # Otherwise every deploy would reset what the HPA scaled to.
                ignore_changes=["spec.replicas"] if args.replicas_owner is ReplicasOwner.AUTOSCALER else None,
            ),
        )
        if args.service_ports:
            service_spec: Any = {
                "type": "ClusterIP",
                "selector": {"app": args.name},
                "ports": list(args.service_ports),
                **({"sessionAffinity": "ClientIP"} if args.service_session_affinity else {}),
            }
            k8s.core.v1.Service(f"{name}-service", metadata=metadata, spec=service_spec, opts=on_cluster)
        budget: Any = {"maxUnavailable": 1, "selector": {"matchLabels": {"app": args.name}}}
        k8s.policy.v1.PodDisruptionBudget(f"{name}-pdb", metadata=metadata, spec=budget, opts=on_cluster)
        self.register_outputs({})
