"""External Secrets, the way every namespace here uses it: a SecretStore that signs in as one service account of
its own namespace (IRSA, a role the AWS layer made for exactly that account), and ExternalSecrets that copy named
Secrets Manager secrets into Kubernetes Secrets. Pulumi writes only references and templates: no secret value
passes through the program, the plan or the state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

STORE_NAME = "aws-secrets-manager"


def irsa_secret_store(
    resource_name: str,
    *,
    namespace: str,
    account: str,
    role_arn: pulumi.Input[str],
    region: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
    store_name: str = STORE_NAME,
) -> k8s.apiextensions.CustomResource:
    """The namespace's ServiceAccount (annotated with its IRSA role, no token mounted) and its SecretStore,
    which only that account's role can use: a SecretStore elsewhere gets nothing."""
    service_account = k8s.core.v1.ServiceAccount(
        f"{resource_name}-{account}",
        metadata={
            "name": account,
            "namespace": namespace,
            "annotations": {"eks.amazonaws.com/role-arn": role_arn},
        },
        automount_service_account_token=False,
        opts=opts,
    )
    return k8s.apiextensions.CustomResource(
        f"{resource_name}-secret-store",
        api_version="external-secrets.io/v1",
        kind="SecretStore",
        metadata={"name": store_name, "namespace": namespace},
        spec={
            "provider": {
                "aws": {
                    "service": "SecretsManager",
                    "region": region,
                    "auth": {"jwt": {"serviceAccountRef": {"name": account}}},
                }
            }
        },
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[service_account])),
    )


def external_secret(
    resource_name: str,
    *,
    name: str,
    namespace: str,
    data: Sequence[Mapping[str, Any]],
    template: Mapping[str, Any] | None = None,
    labels: Mapping[str, str] | None = None,
    refresh_interval: str = "1h",
    store: k8s.apiextensions.CustomResource,
    opts: pulumi.ResourceOptions,
    store_name: str = STORE_NAME,
) -> k8s.apiextensions.CustomResource:
    """A Kubernetes Secret `name` kept in sync from Secrets Manager. `pulumi up` waits until the operator has
    synced it, and fails there, naming it, if the value is missing.

    `template`: the Secret's keys, rendered from `data`'s (then only these keys). `labels`: the Secret's own labels,
    for a controller that finds its Secrets by label."""
    target: dict[str, Any] = {"name": name, "creationPolicy": "Owner"}
    if template is not None or labels:
        rendered: dict[str, Any] = {"engineVersion": "v2"}
        if template is not None:
            rendered["data"] = dict(template)
        if labels:
            rendered["metadata"] = {"labels": dict(labels)}
        target["template"] = rendered
    return k8s.apiextensions.CustomResource(
        resource_name,
        api_version="external-secrets.io/v1",
        kind="ExternalSecret",
        metadata={"name": name, "namespace": namespace, "annotations": {"pulumi.com/waitFor": "condition=Ready"}},
        spec={
            "refreshInterval": refresh_interval,
            "secretStoreRef": {"kind": "SecretStore", "name": store_name},
            "target": target,
            "data": list(data),
        },
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[store])),
    )
