"""Metrics and alerts in the Kubernetes layer: the operator's CRDs chart, kube-prometheus-stack with values for
EKS and the alert rules (the file promtool tests) as a PrometheusRule; and the service's PodMonitors, which are
release objects (Argo CD's), scraping through the NetworkPolicies and mutual TLS exceptions Pulumi owns.

Chart values are checked against the pinned chart's values.yaml, custom resources against the CRDs of the
pinned operator (both vendored in tests/data with their source commit)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from philosophy_infra.config.base import StackConfigError
from philosophy_infra.layers import LayerName
from philosophy_infra.plan import RecordedResource
from philosophy_infra.stack_plan import StackPlan
from tests.chart_values import unknown_keys
from tests.conftest import ROOT, encode, raw_config, release_for, release_object, run_stack, stack_plan, stack_yaml
from tests.istio_injection import PROXY, inject

STACKS = ["prod", "staging"]
DATA = Path(__file__).parent / "data"


def release(plan: StackPlan, chart: str) -> RecordedResource:
    [found] = [r for r in plan.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["chart"] == chart]
    return found


def custom(plan: StackPlan, kind: str) -> RecordedResource:
    [found] = [r for r in plan.resources if r.type == f"kubernetes:monitoring.coreos.com/v1:{kind}"]
    return found


def strict(schema: Any) -> Any:
    """The schema with unknown fields refused, as the API server prunes them (a misspelt field is silently
    dropped there): every object that lists its properties and does not preserve unknown fields."""
    if isinstance(schema, dict):
        out = {k: strict(v) for k, v in schema.items()}
        lists_properties = "properties" in out and "additionalProperties" not in out
        if lists_properties and not out.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


def validate(instance: dict[str, Any], plural: str) -> None:
    """Against the CRD's openAPIV3Schema, strictly. The schema itself is not checked: its patterns are Go's
    (`(?i)` mid-expression), which only matter for fields these objects do not set."""
    jsonschema.Draft7Validator(strict(crd_schema(plural))).validate(instance)


def test_the_validation_catches_a_misspelt_or_mistyped_field() -> None:
    rule: dict[str, Any] = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "x"},
        "spec": {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up == 0", "for": "5m"}]}]},
    }
    validate(rule, "prometheusrules")
    broken: list[dict[str, Any]] = [
        {"alert": "A", "expr": "up == 0", "fro": "5m"},
        {"alert": "A", "expr": "up == 0", "for": 5},
    ]
    for wrong in broken:
        rule["spec"]["groups"][0]["rules"] = [wrong]
        with pytest.raises(jsonschema.ValidationError):
            validate(rule, "prometheusrules")


def crd_schema(plural: str) -> dict[str, Any]:
    crd = yaml.safe_load((DATA / "crds" / f"{plural}.monitoring.coreos.com-v0.93.1.yaml").read_text())
    [version] = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


@pytest.mark.parametrize("stack", STACKS)
def test_crds_come_from_their_own_chart_and_every_value_exists_in_the_stacks_chart(
    stack: str, request: pytest.FixtureRequest
) -> None:
    plan = stack_plan(request, stack)
    crds, kps = release(plan, "prometheus-operator-crds"), release(plan, "kube-prometheus-stack")
    assert (crds.inputs["version"], kps.inputs["version"]) == ("31.0.1", "88.5.3")
    assert {crds.inputs["namespace"], kps.inputs["namespace"]} == {"monitoring"}
    # Helm installs a chart's CRDs only once, never on upgrade: the stack's own are off, the CRDs chart first.
    assert kps.inputs["values"]["crds"] == {"enabled": False} and crds.urn in kps.dependencies
    defaults = yaml.safe_load((DATA / "charts" / "kube-prometheus-stack-88.5.3-values.yaml").read_text())
    # The grafana subchart's values are checked against its own chart too (test_grafana.py).
    values = {k: v for k, v in kps.inputs["values"].items() if k != "grafana"}
    assert unknown_keys(values, defaults) == []


@pytest.mark.parametrize("stack", STACKS)
def test_values_fit_eks_and_pick_up_every_monitor_and_rule(stack: str, request: pytest.FixtureRequest) -> None:
    values = release(stack_plan(request, stack), "kube-prometheus-stack").inputs["values"]
    # What EKS hides (or binds to 127.0.0.1) would only produce "target down" alerts.
    for component in ("kubeControllerManager", "kubeScheduler", "kubeEtcd", "kubeProxy"):
        assert values[component] == {"enabled": False}, component
    spec = values["prometheus"]["prometheusSpec"]
    for selector in ("podMonitor", "serviceMonitor", "probe", "rule"):
        assert spec[f"{selector}SelectorNilUsesHelmValues"] is False, selector
    want = stack_yaml(stack, LayerName.KUBERNETES)["config"]["philosophy-kubernetes:monitoring"]
    assert spec["retention"] == want["prometheusRetention"]
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["resources"]["requests"]["storage"] == f"{want['prometheusStorageGib']}Gi"
    assert claim["storageClassName"] == "gp3"
    assert values["fullnameOverride"] == "kps"


@pytest.mark.parametrize("stack", STACKS)
def test_the_alert_rules_are_the_promtool_tested_file_and_valid_for_the_operator(
    stack: str, request: pytest.FixtureRequest
) -> None:
    rule = custom(stack_plan(request, stack), "PrometheusRule").inputs
    tested = yaml.safe_load((ROOT / "monitoring" / "rules" / "philosophy.rules.yaml").read_text())
    assert rule["spec"]["groups"] == tested["groups"]
    validate(rule, "prometheusrules")


@pytest.mark.parametrize("stack", STACKS)
def test_prometheus_scrapes_the_api_and_the_worker_through_pod_monitors(
    stack: str, request: pytest.FixtureRequest
) -> None:
    """The worker, not the api, calls the LLM API: its metrics feed ClaudeAPIFailure."""
    plan, objects = stack_plan(request, stack), release_for(stack)
    # Argo CD's, with the service: Pulumi's monitoring makes none in the service's namespace.
    assert not [
        r.name
        for r in plan.resources
        if r.type == "kubernetes:monitoring.coreos.com/v1:PodMonitor"
        and r.inputs["metadata"]["namespace"] == "philosophy-app"
    ]
    every = [o for o in objects if o["kind"] == "PodMonitor"]
    monitors = [m for m in every if "matchLabels" in m["spec"]["selector"]]
    assert sorted(m["spec"]["selector"]["matchLabels"]["app"] for m in monitors) == ["claude-worker", "philosophy-api"]
    policies = {
        r.inputs["metadata"]["name"]: r.inputs["spec"]
        for r in plan.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
        if r.inputs["metadata"]["namespace"] == "philosophy-app"
    }
    mutual_tls = {
        r.inputs["metadata"]["name"]: r.inputs["spec"]
        for r in plan.of_type("kubernetes:security.istio.io/v1:PeerAuthentication")
        if r.inputs["metadata"]["namespace"] == "philosophy-app"
    }
    assert mutual_tls["default"] == {"mtls": {"mode": "STRICT"}}
    from_monitoring = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    for monitor in monitors:
        validate(monitor, "podmonitors")
        app = monitor["spec"]["selector"]["matchLabels"]["app"]
        assert monitor["metadata"]["namespace"] == "philosophy-app"
        [endpoint] = monitor["spec"]["podMetricsEndpoints"]
        [workload] = [o for o in objects if o["kind"] in ("Rollout", "Deployment") and o["metadata"]["name"] == app]
        template = workload["spec"]["template"]
        assert monitor["spec"]["selector"]["matchLabels"].items() <= template["metadata"]["labels"].items(), app
        ports = {p["name"]: p["containerPort"] for p in template["spec"]["containers"][0]["ports"]}
        assert endpoint["port"] in ports and endpoint["path"] == "/metrics", app
        # The pods admit Prometheus: default-deny would refuse the scrape otherwise.
        admitted = [
            rule
            for rule in policies[app].get("ingress", [])
            if {"protocol": "TCP", "port": ports["metrics"]} in rule["ports"] and from_monitoring in rule["from"]
        ]
        assert admitted, app
        # Prometheus has no sidecar: the metrics port takes plain HTTP, every other port stays strict.
        [exception] = [p for p in mutual_tls.values() if p.get("selector") == {"matchLabels": {"app": app}}]
        assert exception["mtls"] == {"mode": "STRICT"}
        assert exception["portLevelMtls"] == {str(ports[endpoint["port"]]): {"mode": "PERMISSIVE"}}, app
        # The alerts group by `service`.
        assert {"sourceLabels": ["__meta_kubernetes_pod_label_app"], "targetLabel": "service"} in endpoint[
            "relabelings"
        ]
    # And every sidecar's Envoy statistics (Istio's request metrics, which the canary's analysis reads), on the
    # port the injector gives the proxy, which the namespace's policy opens to monitoring.
    [proxies] = [m for m in every if m not in monitors]
    validate(proxies, "podmonitors")
    [endpoint] = proxies["spec"]["podMetricsEndpoints"]
    injected = inject(release_object(objects, "Rollout", "philosophy-api")["spec"]["template"]["spec"])
    [proxy] = [c for c in [*injected.get("initContainers", []), *injected["containers"]] if c["name"] == PROXY]
    [port] = [p["containerPort"] for p in proxy["ports"] if p["name"] == endpoint["port"]]
    assert any(
        {"protocol": "TCP", "port": port} in rule["ports"] and from_monitoring in rule["from"]
        for rule in policies["allow-mesh"]["ingress"]
    )


def test_the_crds_outlive_their_release_and_the_release_is_protected_in_prod(
    prod_plan: StackPlan, staging_plan: StackPlan
) -> None:
    """Deleting the CRDs deletes every Prometheus, Alertmanager, rule and monitor of every namespace."""
    for plan, protected in ((prod_plan, True), (staging_plan, False)):
        crds = release(plan, "prometheus-operator-crds")
        assert crds.inputs["values"] == {"crds": {"annotations": {"helm.sh/resource-policy": "keep"}}}
        assert crds.protect is protected


def test_the_monitoring_namespace_is_privileged_and_says_why(prod_plan: StackPlan) -> None:
    [namespace] = [
        r.inputs
        for r in prod_plan.of_type("kubernetes:core/v1:Namespace")
        if r.inputs["metadata"]["name"] == "monitoring"
    ]
    labels = namespace["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"
    reason = namespace["metadata"]["annotations"]["guardrails.philosophy/pod-security-exemption"]
    assert "node-exporter" in reason and len(reason.split()) >= 5


def test_a_bad_retention_is_refused_naming_the_key() -> None:
    raw = raw_config("staging", LayerName.KUBERNETES)
    raw["philosophy-kubernetes:monitoring"]["prometheusRetention"] = "two weeks"
    with pytest.raises(StackConfigError) as info:
        run_stack("staging", kubernetes_config=encode(raw))
    assert "philosophy-kubernetes:monitoring.prometheusRetention" in str(info.value)


def test_the_redis_exporter_reads_the_ai_queue_over_tls_with_the_synced_token(prod_plan: StackPlan) -> None:
    """HighQueueDepth needs `redis_key_size{key="ai-generation"}`: the exporter, pointed at the cache's
    configuration endpoint, with the cache's AUTH token from Secrets Manager (its own reader, in `monitoring`)."""
    exporter = release(prod_plan, "prometheus-redis-exporter")
    values = exporter.inputs["values"]
    assert exporter.inputs["version"] == "6.29.0" and exporter.inputs["namespace"] == "monitoring"
    defaults = yaml.safe_load((DATA / "charts" / "prometheus-redis-exporter-6.29.0-values.yaml").read_text())
    assert unknown_keys(values, defaults) == []
    aws = prod_plan.layer(LayerName.AWS).outputs
    assert values["redisAddress"] == f"rediss://{aws['cacheEndpoint']}:{aws['cachePort']}"
    assert values["extraArgs"] == {"is-cluster": "true", "check-single-keys": "db0=ai-generation"}
    assert values["auth"] == {"enabled": True, "secret": {"name": "cache-auth", "key": "password"}}
    assert values["serviceMonitor"] == {"enabled": True}
    [token] = [
        r.inputs
        for r in prod_plan.resources
        if r.type == "kubernetes:external-secrets.io/v1:ExternalSecret" and r.inputs["metadata"]["name"] == "cache-auth"
    ]
    assert token["spec"]["data"] == [{"secretKey": "password", "remoteRef": {"key": aws["cacheAuthSecretArn"]}}]
    assert token["spec"]["secretStoreRef"] == {"kind": "SecretStore", "name": "cache-secret-reader"}
    # The key of the alert is the key the exporter checks.
    rules = (ROOT / "monitoring" / "rules" / "philosophy.rules.yaml").read_text()
    assert 'redis_key_size{key="ai-generation"}' in rules
