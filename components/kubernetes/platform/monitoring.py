"""Metrics and alerts on the cluster: the Prometheus Operator's CRDs, kube-prometheus-stack (Prometheus,
Alertmanager, kube-state-metrics, node-exporter, and Grafana: see grafana.py) and the
seed's alerts as one PrometheusRule, read from the rules file the test suite runs through `promtool test rules`.

- CRDs come from the `prometheus-operator-crds` chart, a release of its own: Helm installs a chart's `crds/`
  only on install, never on upgrade, and they are too large for client-side apply's annotation.
- Values for EKS: no scraping of the control-plane components EKS hides (controller manager, scheduler, etcd),
  nor of kube-proxy, whose metrics listen on 127.0.0.1 in the EKS add-on.
- Selectors pick up PodMonitors, ServiceMonitors, Probes and rules without the chart's `release` label.
- `fullnameOverride: kps`: stable Service names (`kps-prometheus`, `kps-alertmanager`).
- The namespace is Pod Security `privileged`, with its reason: node-exporter reads the host.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components.kubernetes.platform.grafana import Grafana, GrafanaArgs, grafana_values
from components.kubernetes.platform.helm import pinned_release
from components.kubernetes.platform.pod_security import privileged_namespace_metadata
from components.kubernetes.platform.secrets_sync import external_secret, irsa_secret_store
from philosophy_infra.config.monitoring import MonitoringConfig
from philosophy_infra.service import JAEGER_QUERY_URL

NAMESPACE = "monitoring"
CRDS_CHART = ("prometheus-operator-crds", "31.0.1", "https://prometheus-community.github.io/helm-charts")
STACK_CHART = ("kube-prometheus-stack", "88.5.3", "https://prometheus-community.github.io/helm-charts")
RECEIVERS_SECRET, RECEIVERS_ACCOUNT = "alert-receivers", "alert-receivers"
SECRETS_DIR = f"/etc/alertmanager/secrets/{RECEIVERS_SECRET}"
RULES_FILE = Path(__file__).resolve().parents[3] / "monitoring" / "rules" / "philosophy.rules.yaml"


def alertmanager_config(receivers: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Every alert to `null` (seen in the UIs, told to nobody), and to each receiver of its severity. Secrets are
    read from files (the mounted `alert-receivers` Secret), never written into the config."""
    entries: list[dict[str, Any]] = [{"name": "null"}]
    routes = []
    for name, receiver in sorted(receivers.items()):
        path = f"{SECRETS_DIR}/{name}"
        if receiver["type"] == "slack":
            entries.append({"name": name, "slack_configs": [{"api_url_file": path, "send_resolved": True}]})
        else:
            entries.append({"name": name, "pagerduty_configs": [{"routing_key_file": path, "send_resolved": True}]})
        severities = "|".join(sorted(receiver["severities"]))
        routes.append({"receiver": name, "matchers": [f'severity=~"{severities}"'], "continue": True})
    return {
        "route": {
            "receiver": "null",
            "group_by": ["alertname", "service", "namespace"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": routes,
        },
        # A critical alert silences the warning of the same alert and service.
        "inhibit_rules": [
            {
                "source_matchers": ['severity="critical"'],
                "target_matchers": ['severity="warning"'],
                "equal": ["alertname", "service"],
            }
        ],
        "receivers": entries,
    }


def alert_rule_groups() -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = yaml.load(
        RULES_FILE.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    )["groups"]
    return groups


@dataclass(frozen=True, kw_only=True)
class MonitoringArgs:
    provider: k8s.Provider
    settings: MonitoringConfig
    kubernetes_version: pulumi.Input[str]
    storage_class: str
    node_selector: pulumi.Input[Mapping[str, str]]
    tolerations: pulumi.Input[Sequence[Mapping[str, str]]]
    protected: bool = True
    """Protected stacks keep the CRDs release: deleting it deletes every monitoring object of every kind."""
    receivers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """The AWS layer's `alertReceivers`: name -> {type, severities, secretArn}. None: alerts stay in the UIs."""
    receivers_role_arn: str = ""
    """The AWS layer's role that may read exactly the receivers' secrets."""
    region: pulumi.Input[str] = ""
    after: Sequence[pulumi.Resource] = ()
    """The StorageClasses (Prometheus's volume) and External Secrets (the receivers' secrets). The service's
    PodMonitors are its release objects (Argo CD's), with the service."""


class Monitoring(pulumi.ComponentResource):
    stack: k8s.helm.v3.Release
    crds: k8s.helm.v3.Release

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:Monitoring", name, None, opts)
        s = args.settings
        on_cluster = pulumi.ResourceOptions(parent=self, provider=args.provider)
        # Everything but node-exporter would pass `restricted`: the warnings say which pods do not.
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=privileged_namespace_metadata(
                NAMESPACE,
                args.kubernetes_version,
                "node-exporter reads the nodes' metrics through hostNetwork, hostPID and hostPath, which only the "
                "privileged level admits",
                warn_restricted=True,
            ),
            opts=on_cluster,
        )
        in_namespace = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[namespace])
        # The CRDs outlive their release (Helm's keep policy) and the release is protected: a destroy or a
        # replacement would otherwise delete every Prometheus, Alertmanager, rule and monitor with them.
        self.crds = pinned_release(
            f"{name}-crds",
            CRDS_CHART,
            NAMESPACE,
            {"crds": {"annotations": {"helm.sh/resource-policy": "keep"}}},
            pulumi.ResourceOptions.merge(in_namespace, pulumi.ResourceOptions(protect=args.protected)),
            create_namespace=False,
        )
        placement = {"nodeSelector": args.node_selector, "tolerations": args.tolerations}
        values: dict[str, Any] = {
            "fullnameOverride": "kps",
            "crds": {"enabled": False},
            "kubeControllerManager": {"enabled": False},
            "kubeScheduler": {"enabled": False},
            "kubeEtcd": {"enabled": False},
            "kubeProxy": {"enabled": False},
            "grafana": grafana_values(
                storage_class=args.storage_class,
                storage_gib=s.grafana_storage_gib,
                tracing_url=JAEGER_QUERY_URL,
                placement=placement,
            ),
            "prometheusOperator": {**placement},
            "prometheus": {
                "prometheusSpec": {
                    **placement,
                    "retention": s.prometheus_retention,
                    # Whichever comes first: a full volume would stop Prometheus before the retention runs out.
                    "retentionSize": f"{int(s.prometheus_storage_gib * 0.85)}GB",
                    "resources": {"requests": {"cpu": "250m", "memory": "1Gi"}},
                    "podMonitorSelectorNilUsesHelmValues": False,
                    "serviceMonitorSelectorNilUsesHelmValues": False,
                    "probeSelectorNilUsesHelmValues": False,
                    "ruleSelectorNilUsesHelmValues": False,
                    "storageSpec": {
                        "volumeClaimTemplate": {
                            "spec": {
                                "storageClassName": args.storage_class,
                                "accessModes": ["ReadWriteOnce"],
                                "resources": {"requests": {"storage": f"{s.prometheus_storage_gib}Gi"}},
                            }
                        }
                    },
                }
            },
            "alertmanager": {
                "config": alertmanager_config(args.receivers),
                "alertmanagerSpec": {**placement, "secrets": [RECEIVERS_SECRET] if args.receivers else []},
            },
        }
        after_crds = pulumi.ResourceOptions(
            parent=self, provider=args.provider, depends_on=[namespace, self.crds, *args.after]
        )
        receiver_secrets = self._receiver_secrets(name, args, namespace) if args.receivers else []
        grafana = Grafana(
            f"{name}-grafana",
            GrafanaArgs(provider=args.provider, namespace=NAMESPACE, after=[namespace, *args.after]),
            opts=pulumi.ResourceOptions(parent=self),
        )
        after_crds = pulumi.ResourceOptions.merge(
            after_crds, pulumi.ResourceOptions(depends_on=[*receiver_secrets, grafana.admin_secret])
        )
        self.stack = pinned_release(f"{name}-stack", STACK_CHART, NAMESPACE, values, after_crds, create_namespace=False)
        after_stack = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[self.stack])
        k8s.apiextensions.CustomResource(
            f"{name}-alert-rules",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata={"name": "philosophy", "namespace": NAMESPACE},
            spec={"groups": alert_rule_groups()},
            opts=after_stack,
        )
        self.register_outputs({})

    def _receiver_secrets(
        self, name: str, args: MonitoringArgs, namespace: k8s.core.v1.Namespace
    ) -> list[pulumi.Resource]:
        """The receivers' secrets, synced by External Secrets as the namespace's `alert-receivers` account, into
        the Secret Alertmanager mounts."""
        opts = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[namespace, *args.after])
        store = irsa_secret_store(
            name,
            namespace=NAMESPACE,
            account=RECEIVERS_ACCOUNT,
            role_arn=args.receivers_role_arn,
            region=args.region,
            opts=opts,
            store_name=RECEIVERS_ACCOUNT,
        )
        secret = external_secret(
            f"{name}-{RECEIVERS_SECRET}",
            name=RECEIVERS_SECRET,
            namespace=NAMESPACE,
            data=[
                {"secretKey": receiver_name, "remoteRef": {"key": receiver["secretArn"]}}
                for receiver_name, receiver in sorted(args.receivers.items())
            ],
            store=store,
            store_name=RECEIVERS_ACCOUNT,
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider),
        )
        return [secret]
