"""Grafana, as kube-prometheus-stack's subchart: what surrounds it and the values it takes.

- The admin password is generated in the cluster by External Secrets (a `Password` generator, once: refresh
  `0s`), into the Secret Grafana reads. It exists nowhere else: not in config, state or Secrets Manager.
  Grafana keeps the admin in its database after the first start, so the password is never regenerated.
- Its database and plugins on a volume of the default StorageClass (encrypted gp3). ReadWriteOnce, so a new pod
  replaces the old one (Recreate) instead of waiting for a volume the old one holds; no root init container
  to chown it (the pod's fsGroup does).
- Data sources: Prometheus and Alertmanager (the chart's own) and the tracing backend, Jaeger.
- Dashboards: the JSON files in `monitoring/dashboards/`, each a ConfigMap the chart's sidecar loads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

DASHBOARDS_DIR = Path(__file__).resolve().parents[3] / "monitoring" / "dashboards"
ADMIN_SECRET = "grafana-admin"
GENERATORS_API = "generators.external-secrets.io/v1alpha1"
# The label and value kube-prometheus-stack's dashboards sidecar watches for (its values.yaml).
DASHBOARD_LABEL = ("grafana_dashboard", "1")


def dashboard_files() -> dict[str, str]:
    """`<file stem>` -> the dashboard's JSON, as committed."""
    return {path.stem: path.read_text() for path in sorted(DASHBOARDS_DIR.glob("*.json"))}


def grafana_values(
    *,
    storage_class: str,
    storage_gib: int,
    tracing_url: str,
    placement: Mapping[str, Any],
) -> dict[str, Any]:
    """kube-prometheus-stack's `grafana` values."""
    return {
        "enabled": True,
        # The subchart names itself after the release otherwise (`kube-prometheus-stack-grafana`).
        "fullnameOverride": "kps-grafana",
        **placement,
        "admin": {"existingSecret": ADMIN_SECRET, "userKey": "admin-user", "passwordKey": "admin-password"},
        "persistence": {
            "enabled": True,
            "type": "pvc",
            "storageClassName": storage_class,
            "accessModes": ["ReadWriteOnce"],
            "size": f"{storage_gib}Gi",
        },
        "deploymentStrategy": {"type": "Recreate"},
        "initChownData": {"enabled": False},
        "additionalDataSources": [
            {
                "name": "Jaeger",
                "uid": "jaeger",
                "type": "jaeger",
                "access": "proxy",
                "url": tracing_url,
                "editable": False,
            }
        ],
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
    }


@dataclass(frozen=True, kw_only=True)
class GrafanaArgs:
    provider: k8s.Provider
    namespace: str
    after: list[pulumi.Resource]
    """The namespace and External Secrets (its CRDs)."""


class Grafana(pulumi.ComponentResource):
    admin_secret: k8s.apiextensions.CustomResource

    def __init__(self, name: str, args: GrafanaArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:Grafana", name, None, opts)
        inside = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=args.after)
        generator = k8s.apiextensions.CustomResource(
            f"{name}-admin-password",
            api_version=GENERATORS_API,
            kind="Password",
            metadata={"name": ADMIN_SECRET, "namespace": args.namespace},
            spec={"length": 32, "digits": 6, "symbols": 0, "noUpper": False, "allowRepeat": True},
            opts=inside,
        )
        generator_ref = {"apiVersion": GENERATORS_API, "kind": "Password", "name": ADMIN_SECRET}
        self.admin_secret = k8s.apiextensions.CustomResource(
            f"{name}-admin",
            api_version="external-secrets.io/v1",
            kind="ExternalSecret",
            metadata={
                "name": ADMIN_SECRET,
                "namespace": args.namespace,
                "annotations": {"pulumi.com/waitFor": "condition=Ready"},
            },
            spec={
                # Generated once, never again, even when this spec changes: Grafana only reads it on its first
                # start and keeps it in its database.
                "refreshPolicy": "CreatedOnce",
                "refreshInterval": "0s",
                "target": {
                    "name": ADMIN_SECRET,
                    "creationPolicy": "Owner",
                    "template": {
                        "engineVersion": "v2",
                        "data": {"admin-user": "admin", "admin-password": "{{ .password }}"},
                    },
                },
                "dataFrom": [{"sourceRef": {"generatorRef": generator_ref}}],
            },
            opts=pulumi.ResourceOptions.merge(inside, pulumi.ResourceOptions(depends_on=[generator])),
        )
        label, value = DASHBOARD_LABEL
        for stem, text in dashboard_files().items():
            k8s.core.v1.ConfigMap(
                f"{name}-dashboard-{stem}",
                metadata={"name": f"dashboard-{stem}", "namespace": args.namespace, "labels": {label: value}},
                data={f"{stem}.json": text},
                opts=inside,
            )
        self.register_outputs({})
