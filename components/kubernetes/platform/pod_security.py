"""What every namespace and pod of the Kubernetes layer shares: Pod Security `restricted`, the security contexts
that pass it, and the one egress every NetworkPolicy'd pod needs (DNS)."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s


def restricted_namespace_labels(kubernetes_version: pulumi.Input[str]) -> dict[str, Any]:
    """Enforced (and audited, and warned about) at the cluster's own version: an upgrade of the cluster brings the
    new version's checks, never silently older ones."""
    return {
        **{f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")},
        "pod-security.kubernetes.io/enforce-version": pulumi.Output.from_input(kubernetes_version).apply(
            lambda v: f"v{v}"
        ),
    }


EXEMPTION_ANNOTATION = "guardrails.philosophy/pod-security-exemption"


def privileged_namespace_metadata(
    name: str, kubernetes_version: pulumi.Input[str], reason: str, *, warn_restricted: bool = False
) -> k8s.meta.v1.ObjectMetaArgsDict:
    """A namespace that must admit privileged pods, with the written reason the policy pack asks for.
    `warn_restricted`: audit and warn at `restricted`, so the pods that could comply are named when they do not."""
    labels: dict[str, Any] = {
        "pod-security.kubernetes.io/enforce": "privileged",
        "pod-security.kubernetes.io/enforce-version": pulumi.Output.from_input(kubernetes_version).apply(
            lambda v: f"v{v}"
        ),
    }
    if warn_restricted:
        labels |= {"pod-security.kubernetes.io/warn": "restricted", "pod-security.kubernetes.io/audit": "restricted"}
    return {"name": name, "labels": labels, "annotations": {EXEMPTION_ANNOTATION: reason}}


def chart_security_contexts(user: int, *, read_only_root: bool = True) -> dict[str, dict[str, Any]]:
    """A chart's `podSecurityContext` and `securityContext` that pass `restricted`, for an image that runs as `user`
    (given as a number: `runAsNonRoot` cannot check a user name)."""
    return {
        "podSecurityContext": {
            "runAsNonRoot": True,
            "runAsUser": user,
            "runAsGroup": user,
            "fsGroup": user,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": read_only_root,
            "capabilities": {"drop": ["ALL"]},
        },
    }


DNS_EGRESS: dict[str, Any] = {
    "to": [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
    ],
    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
}
"""CoreDNS, in kube-system."""
