"""The OpenSearch domain's inside, owned by one Job in the schema Job's namespace: who may do what, the service's
index template, and how long the traces are kept. Nothing outside the VPC can reach the domain, and no Pulumi
provider manages OpenSearch's security plugin or ISM, so the Job does it, signing every request with the
domain's master role (`search-admin`, IRSA: no password). Idempotent; a new Job runs when what it writes changes.

- Role mappings (each tenant an IAM role, as the issue asks; no internal users, no passwords):
  `philosophy_search` (the api's role): the `philosophy-*` indices; `jaeger_traces` (Jaeger's role): the
  `jaeger-*` indices and their templates; `all_access` and `security_manager`: the master and the operators.
- An index template giving `philosophy-*` indices a replica in each other zone (two with Multi-AZ with standby).
- An ISM policy deleting `jaeger-*` indices past the tracing retention; new daily indices pick it up.
The script (search_setup_script.py) uses Python's standard library only, in the Python image.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.platform.pod_security import DNS_EGRESS
from philosophy_infra.arns import role_arn_without_path
from philosophy_infra.pods import TMP_MOUNT, TMP_VOLUME, container_security_context, pod_security_context
from philosophy_infra.service import SCHEMA_NAMESPACE, SEARCH_ADMIN

PYTHON_IMAGE = "public.ecr.aws/docker/library/python:3.13-alpine"
SCRIPT = Path(__file__).resolve().parent / "search_setup_script.py"
MOUNT = "/etc/search-setup"
SEARCH_INDICES, TRACE_INDICES = "philosophy-*", "jaeger-*"
JOB_DEADLINE_SECONDS = 1200


def backend_roles(*role_arns: str) -> list[str]:
    """Each role as OpenSearch may see it: the session's form without the role's path (philosophy_infra.arns),
    and the full ARN, so a mapping matches whichever the domain derives."""
    return sorted({form for arn in role_arns for form in (arn, role_arn_without_path(arn))})


def search_setup_plan(
    *,
    master_role_arn: str,
    operator_role_arns: Sequence[str],
    api_role_arn: str,
    jaeger_role_arn: str,
    index_replicas: int,
    trace_retention_days: int,
) -> dict[str, Any]:
    """The steps, in order: roles before their mappings; the master keeps all access whatever else changes."""
    admins = backend_roles(master_role_arn, *operator_role_arns)

    def role(name: str, cluster: list[str], pattern: str, actions: list[str]) -> dict[str, Any]:
        return {
            "method": "PUT",
            "path": f"/_plugins/_security/api/roles/{name}",
            "body": {
                "cluster_permissions": cluster,
                "index_permissions": [{"index_patterns": [pattern], "allowed_actions": actions}],
            },
        }

    def mapping(name: str, backend_roles: list[str]) -> dict[str, Any]:
        return {
            "method": "PUT",
            "path": f"/_plugins/_security/api/rolesmapping/{name}",
            "body": {"backend_roles": backend_roles, "users": [], "hosts": []},
        }

    trace_indices = [f"{TRACE_INDICES[:-1]}{kind}-*" for kind in ("span", "service", "dependencies", "sampling")]
    return {
        "steps": [
            mapping("all_access", admins),
            mapping("security_manager", admins),
            role(
                "philosophy_search",
                ["cluster_composite_ops", "cluster_monitor"],
                SEARCH_INDICES,
                ["crud", "create_index", "manage"],
            ),
            mapping("philosophy_search", backend_roles(api_role_arn)),
            # Jaeger writes its own index templates (legacy `_template`) at start.
            role(
                "jaeger_traces",
                [
                    "cluster_composite_ops",
                    "cluster_monitor",
                    "indices:admin/template/get",
                    "indices:admin/template/put",
                ],
                TRACE_INDICES,
                ["crud", "create_index", "indices:admin/mapping/put", "indices_monitor"],
            ),
            mapping("jaeger_traces", backend_roles(jaeger_role_arn)),
            {
                "method": "PUT",
                "path": "/_index_template/philosophy",
                "body": {
                    "index_patterns": [SEARCH_INDICES],
                    "priority": 100,
                    "template": {"settings": {"index": {"number_of_replicas": index_replicas}}},
                },
            },
            {
                "ism_policy": "jaeger-retention",
                "policy": {
                    "description": f"Jaeger's daily indices, deleted after {trace_retention_days} days",
                    "default_state": "hot",
                    "states": [
                        {
                            "name": "hot",
                            "actions": [],
                            "transitions": [
                                {"state_name": "delete", "conditions": {"min_index_age": f"{trace_retention_days}d"}}
                            ],
                        },
                        {"name": "delete", "actions": [{"delete": {}}], "transitions": []},
                    ],
                    "ism_template": [{"index_patterns": trace_indices, "priority": 100}],
                },
            },
        ]
    }


@dataclass(frozen=True, kw_only=True)
class SearchSetupArgs:
    provider: k8s.Provider
    region: pulumi.Input[str]
    search_endpoint: pulumi.Input[str]
    master_role_arn: pulumi.Input[str]
    """`search-admin`'s role: the domain's master user."""
    operator_role_arns: pulumi.Input[Sequence[str]]
    api_role_arn: pulumi.Input[str]
    jaeger_role_arn: pulumi.Input[str]
    index_replicas: pulumi.Input[int]
    trace_retention_days: int
    after: Sequence[pulumi.Resource] = ()
    """The schema Job's namespace (and its default-deny policies)."""


class SearchSetup(pulumi.ComponentResource):
    job: k8s.batch.v1.Job

    def __init__(self, name: str, args: SearchSetupArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:SearchSetup", name, None, opts)
        inside = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(args.after))
        k8s.core.v1.ServiceAccount(
            f"{name}-{SEARCH_ADMIN}",
            metadata={
                "name": SEARCH_ADMIN,
                "namespace": SCHEMA_NAMESPACE,
                "annotations": {"eks.amazonaws.com/role-arn": args.master_role_arn},
            },
            # IRSA's token is a volume of its own; the Job never calls the Kubernetes API.
            automount_service_account_token=False,
            opts=inside,
        )
        plan = pulumi.Output.all(
            args.master_role_arn,
            args.api_role_arn,
            args.jaeger_role_arn,
            args.index_replicas,
            pulumi.Output.from_input(args.operator_role_arns),
        ).apply(
            lambda v: search_setup_plan(
                master_role_arn=v[0],
                operator_role_arns=v[4],
                api_role_arn=v[1],
                jaeger_role_arn=v[2],
                index_replicas=v[3],
                trace_retention_days=args.trace_retention_days,
            )
        )
        script = SCRIPT.read_text()
        files = k8s.core.v1.ConfigMap(
            f"{name}-files",
            metadata={"name": "search-setup", "namespace": SCHEMA_NAMESPACE},
            data={"setup.py": script, "plan.json": plan.apply(lambda p: json.dumps(p, indent=2, sort_keys=True))},
            opts=inside,
        )
        # A new Job whenever what it would do changes (Jobs are immutable); an unchanged deploy keeps the old one.
        job_name = plan.apply(
            lambda p: (
                "search-setup-"
                + hashlib.sha256(json.dumps([PYTHON_IMAGE, script, p], sort_keys=True).encode()).hexdigest()[:8]
            )
        )
        endpoint = pulumi.Output.concat("https://", args.search_endpoint)
        self._network_policy(name, inside)
        metadata: Any = {"name": job_name, "namespace": SCHEMA_NAMESPACE, "labels": {"app": "search-setup"}}
        spec: Any = {
            "backoffLimit": 4,
            "activeDeadlineSeconds": JOB_DEADLINE_SECONDS,
            "template": {
                "metadata": {"labels": {"app": "search-setup"}},
                "spec": {
                    "restartPolicy": "Never",
                    "serviceAccountName": SEARCH_ADMIN,
                    "automountServiceAccountToken": False,
                    "securityContext": pod_security_context(),
                    "containers": [
                        {
                            "name": "search-setup",
                            "image": PYTHON_IMAGE,
                            "imagePullPolicy": "Always",
                            "command": ["python", f"{MOUNT}/setup.py", f"{MOUNT}/plan.json"],
                            "env": [
                                {
                                    "name": "SEARCH_ENDPOINT",
                                    "value": endpoint,
                                },
                                {"name": "AWS_REGION", "value": args.region},
                                # STS's regional endpoint, not the global one.
                                {"name": "AWS_STS_REGIONAL_ENDPOINTS", "value": "regional"},
                                {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
                            ],
                            "resources": {
                                "requests": {"cpu": "50m", "memory": "64Mi"},
                                "limits": {"cpu": "500m", "memory": "128Mi"},
                            },
                            "securityContext": container_security_context(),
                            "volumeMounts": [TMP_MOUNT, {"name": "files", "mountPath": MOUNT, "readOnly": True}],
                        }
                    ],
                    "volumes": [TMP_VOLUME, {"name": "files", "configMap": {"name": "search-setup"}}],
                },
            },
        }
        self.job = k8s.batch.v1.Job(
            f"{name}-job",
            metadata=metadata,
            spec=spec,
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=args.provider,
                depends_on=[files, *args.after],
                custom_timeouts=pulumi.CustomTimeouts(create="25m", update="25m"),
            ),
        )
        self.register_outputs({"jobName": self.job.metadata.name})

    def _network_policy(self, name: str, opts: pulumi.ResourceOptions) -> None:
        """DNS, and HTTPS: to the domain (in the database subnets) and to STS (for the role), nothing else."""
        spec: Any = {
            "podSelector": {"matchLabels": {"app": "search-setup"}},
            "policyTypes": ["Egress"],
            "egress": [
                DNS_EGRESS,
                {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP", "port": 443}]},
            ],
        }
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol",
            metadata={"name": "search-setup", "namespace": SCHEMA_NAMESPACE},
            spec=spec,
            opts=opts,
        )
