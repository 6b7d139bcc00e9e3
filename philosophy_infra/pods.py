"""How every pod of this program is hardened, whoever owns it (Pulumi's Jobs, Argo CD's release objects): non-root,
a read-only root filesystem, no privilege escalation, no capabilities, the RuntimeDefault seccomp profile, and a
writable /tmp. Pod Security `restricted` admits these pods, with or without Istio's injected containers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

RUN_AS = 10001
# Where pods mount the region's RDS certificate authorities (the `rds-ca` ConfigMap) to verify the database.
RDS_CA_MOUNT = "/etc/rds-ca"
RDS_CA_FILE = f"{RDS_CA_MOUNT}/ca.pem"


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
