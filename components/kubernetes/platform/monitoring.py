"""Metrics and alerts on the cluster: the Prometheus Operator's CRDs, kube-prometheus-stack (Prometheus,
Alertmanager, kube-state-metrics, node-exporter), the service's PodMonitor and the seed's alerts as one
PrometheusRule, read from the rules file the test suite runs through `promtool test rules`.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from philosophy_infra.config.monitoring import MonitoringConfig

NAMESPACE = "monitoring"
CRDS_CHART = ("prometheus-operator-crds", "31.0.1", "https://prometheus-community.github.io/helm-charts")
STACK_CHART = ("kube-prometheus-stack", "88.5.3", "https://prometheus-community.github.io/helm-charts")
RULES_FILE = Path(__file__).resolve().parents[3] / "monitoring" / "rules" / "philosophy.rules.yaml"
EXEMPTION_ANNOTATION = "guardrails.philosophy/pod-security-exemption"


def alert_rule_groups() -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = yaml.safe_load(RULES_FILE.read_text())["groups"]
    return groups


@dataclass(frozen=True, kw_only=True)
class MonitoringArgs:
    provider: k8s.Provider
    settings: MonitoringConfig
    kubernetes_version: pulumi.Input[str]
    storage_class: str
    node_selector: pulumi.Input[Mapping[str, str]]
    tolerations: pulumi.Input[Sequence[Mapping[str, str]]]
    app_namespace: str
    scraped_app: str
    """The `app` label of the pods whose `metrics` port Prometheus scrapes."""
    after: Sequence[pulumi.Resource] = ()
    """The StorageClasses (Prometheus's volume) and the app namespace (the PodMonitor lives there)."""


class Monitoring(pulumi.ComponentResource):
    stack: k8s.helm.v3.Release
    crds: k8s.helm.v3.Release

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:Monitoring", name, None, opts)
        s = args.settings
        on_cluster = pulumi.ResourceOptions(parent=self, provider=args.provider)
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={
                "name": NAMESPACE,
                "labels": {
                    "pod-security.kubernetes.io/enforce": "privileged",
                    "pod-security.kubernetes.io/enforce-version": pulumi.Output.from_input(
                        args.kubernetes_version
                    ).apply(lambda v: f"v{v}"),
                    # Everything but node-exporter would pass `restricted`: the warnings say which pods do not.
                    "pod-security.kubernetes.io/warn": "restricted",
                    "pod-security.kubernetes.io/audit": "restricted",
                },
                "annotations": {
                    EXEMPTION_ANNOTATION: "node-exporter reads the nodes' metrics through hostNetwork, hostPID "
                    "and hostPath, which only the privileged level admits"
                },
            },
            opts=on_cluster,
        )
        in_namespace = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[namespace])
        self.crds = _release(f"{name}-crds", CRDS_CHART, {}, in_namespace)
        placement = {"nodeSelector": args.node_selector, "tolerations": args.tolerations}
        values: dict[str, Any] = {
            "fullnameOverride": "kps",
            "crds": {"enabled": False},
            "kubeControllerManager": {"enabled": False},
            "kubeScheduler": {"enabled": False},
            "kubeEtcd": {"enabled": False},
            "kubeProxy": {"enabled": False},
            # Grafana comes with its dashboards and data sources in a change of its own.
            "grafana": {"enabled": False},
            "prometheusOperator": {**placement},
            "prometheus": {
                "prometheusSpec": {
                    **placement,
                    "retention": s.prometheus_retention,
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
            "alertmanager": {"alertmanagerSpec": {**placement}},
        }
        after_crds = pulumi.ResourceOptions(
            parent=self, provider=args.provider, depends_on=[namespace, self.crds, *args.after]
        )
        self.stack = _release(f"{name}-stack", STACK_CHART, values, after_crds)
        after_stack = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[self.stack])
        k8s.apiextensions.CustomResource(
            f"{name}-alert-rules",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata={"name": "philosophy", "namespace": NAMESPACE},
            spec={"groups": alert_rule_groups()},
            opts=after_stack,
        )
        # The operator ignores `prometheus.io/*` annotations: this is what makes Prometheus scrape the service.
        k8s.apiextensions.CustomResource(
            f"{name}-{args.scraped_app}-pod-monitor",
            api_version="monitoring.coreos.com/v1",
            kind="PodMonitor",
            metadata={"name": args.scraped_app, "namespace": args.app_namespace},
            spec={
                "selector": {"matchLabels": {"app": args.scraped_app}},
                "podMetricsEndpoints": [
                    {
                        "port": "metrics",
                        "path": "/metrics",
                        "interval": "15s",
                        # The alerts group by `service`: the pod's `app` label.
                        "relabelings": [
                            {"sourceLabels": ["__meta_kubernetes_pod_label_app"], "targetLabel": "service"}
                        ],
                    }
                ],
            },
            opts=after_stack,
        )
        self.register_outputs({})


def _release(
    resource_name: str, chart: tuple[str, str, str], values: Mapping[str, Any], opts: pulumi.ResourceOptions
) -> k8s.helm.v3.Release:
    chart_name, version, repo = chart
    return k8s.helm.v3.Release(
        resource_name,
        name=chart_name,
        chart=chart_name,
        version=version,
        repository_opts={"repo": repo},
        namespace=NAMESPACE,
        create_namespace=False,
        values=dict(values),
        opts=opts,
    )
