"""Istio (Kubernetes layer): base, istiod, the CNI and an ingress gateway, pinned, from Istio's own registry and
chart host, in sidecar mode with the CNI so the service's namespace stays `restricted`; strict mutual TLS in the
service's namespace with the scrape port's exception; NetworkPolicies that admit the gateway and reach istiod;
the mesh's spans to the OpenTelemetry Collector, sampled like the SDKs.

Chart values are checked against the charts' values.yaml (1.30.3 vendored, see README: the 1.31 files are not in
any snapshot here; istiod's and the CNI's values did not change between 1.30.3 and 1.31.0-rc.0)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from components.kubernetes.platform.service_mesh import otlp_service
from philosophy_infra.plan import RecordedResource
from philosophy_infra.release.render import stack_release_objects
from philosophy_infra.stack_plan import StackPlan
from tests.chart_values import unknown_keys
from tests.conftest import KUBERNETES, ROOT, stack_plan, stack_yaml

CHARTS = Path(__file__).parent / "data" / "charts"
STACKS = ["prod", "staging"]
ISTIO_CHARTS = {"base": "istio-system", "istiod": "istio-system", "cni": "istio-cni", "gateway": "istio-ingress"}
# In the charts' values.yaml as empty maps (`seccompProfile: {}`) or with one of their keys: objects of Kubernetes'
# or of Istio's MeshConfig API, which the charts pass through.
PASSED_THROUGH = {
    "istiod": ["global.proxy.seccompProfile.type", "seccompProfile.type", "meshConfig.extensionProviders"],
    "cni": ["seccompProfile.type"],
    # Documented in a comment of its values.yaml (`podDisruptionBudget: {minAvailable: 1}`).
    "gateway": ["podDisruptionBudget.minAvailable"],
    "base": [],
}


def releases(plan: StackPlan) -> dict[str, dict[str, Any]]:
    return {r.inputs["chart"]: r.inputs for r in plan.of_type("kubernetes:helm.sh/v3:Release")}


def objects(plan: StackPlan, kind: str) -> list[RecordedResource]:
    return [r for r in plan.resources if r.type.startswith("kubernetes:") and r.type.endswith(f":{kind}")]


def named(plan: StackPlan, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    [found] = [
        r.inputs
        for r in objects(plan, kind)
        if r.inputs["metadata"]["name"] == name and namespace in (None, r.inputs["metadata"].get("namespace"))
    ]
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_istio_is_pinned_from_its_own_hosts_and_every_value_is_the_charts(
    request: pytest.FixtureRequest, stack: str
) -> None:
    found = releases(stack_plan(request, stack))
    for chart, namespace in ISTIO_CHARTS.items():
        release = found[chart]
        assert (release["version"], release["namespace"]) == ("1.31.1", namespace), chart
        # Istio stops publishing to its Google Cloud bucket and registry with 1.31.
        assert release["repositoryOpts"]["repo"] == "https://blob.istio.io/istio-release/charts"
        defaults = yaml.safe_load((CHARTS / f"istio-{chart}-1.30.3-values.yaml").read_text())
        assert sorted(unknown_keys(release["values"], defaults["_internal_defaults_do_not_set"])) == sorted(
            PASSED_THROUGH[chart]
        ), chart
    for chart in ("istiod", "cni"):
        assert found[chart]["values"]["global"] == {**found[chart]["values"]["global"], "hub": "docker.io/istio"}
        assert found[chart]["values"]["global"]["tag"] == "1.31.1"


@pytest.mark.parametrize("stack", STACKS)
def test_sidecars_come_from_the_cni_so_no_pod_needs_net_admin(request: pytest.FixtureRequest, stack: str) -> None:
    values = releases(stack_plan(request, stack))
    istiod, cni = values["istiod"]["values"], values["cni"]["values"]
    assert istiod["cni"] == {"enabled": True}
    assert istiod["global"]["proxy"]["seccompProfile"] == {"type": "RuntimeDefault"}
    # Chained after the VPC CNI, in its directories; sidecar mode, not ambient.
    assert (cni["chained"], cni["cniBinDir"], cni["cniConfDir"]) == (True, "/opt/cni/bin", "/etc/cni/net.d")
    assert cni["ambient"] == {"enabled": False}


@pytest.mark.parametrize("stack", STACKS)
def test_only_the_cni_namespace_is_privileged_and_it_says_why(request: pytest.FixtureRequest, stack: str) -> None:
    plan = stack_plan(request, stack)
    levels = {}
    for namespace in ("istio-system", "istio-cni", "istio-ingress", "philosophy-app"):
        metadata = named(plan, "Namespace", namespace)["metadata"]
        levels[namespace] = metadata["labels"]["pod-security.kubernetes.io/enforce"]
        if levels[namespace] == "privileged":
            reason = metadata["annotations"]["guardrails.philosophy/pod-security-exemption"]
            assert "NET_ADMIN" in reason and len(reason.split()) > 10
    assert levels == {
        "istio-system": "restricted",
        "istio-cni": "privileged",
        "istio-ingress": "restricted",
        "philosophy-app": "restricted",
    }
    app = named(plan, "Namespace", "philosophy-app")["metadata"]["labels"]
    assert app["istio-injection"] == "enabled"


@pytest.mark.parametrize("stack", STACKS)
def test_the_gateway_is_cluster_internal_and_restricted(request: pytest.FixtureRequest, stack: str) -> None:
    plan = stack_plan(request, stack)
    values = releases(plan)["gateway"]["values"]
    # The load balancer in front of it comes with the edge.
    assert values["service"] == {"type": "ClusterIP"}
    context = values["securityContext"]
    assert context["runAsNonRoot"] is True and context["seccompProfile"] == {"type": "RuntimeDefault"}
    # The one sysctl that lets the proxy (1337) bind 80 and 443: in Pod Security's safe set.
    assert context["sysctls"] == [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}]
    gateway = named(plan, "Gateway", "philosophy", "istio-ingress")["spec"]
    # The chart labels its pods `istio: <release name>`.
    gateway_release = next(r for r in plan.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["chart"] == "gateway")
    assert gateway["selector"] == {"istio": gateway_release.inputs["name"]}
    routes = [o for o in stack_release_objects(ROOT, stack) if o["kind"] == "VirtualService"]
    assert routes and all(r["spec"]["gateways"] == ["istio-ingress/philosophy"] for r in routes)


@pytest.mark.parametrize("stack", STACKS)
def test_mutual_tls_is_strict_but_prometheus_can_scrape(request: pytest.FixtureRequest, stack: str) -> None:
    plan = stack_plan(request, stack)
    policies = {r.inputs["metadata"]["name"]: r.inputs["spec"] for r in objects(plan, "PeerAuthentication")}
    assert policies["default"] == {"mtls": {"mode": "STRICT"}}
    release = stack_release_objects(ROOT, stack)
    # Every port a PodMonitor scrapes on the app's pods (Prometheus is outside the mesh) is the one exception.
    for monitor in (o for o in release if o["kind"] == "PodMonitor" and "matchLabels" in o["spec"]["selector"]):
        app = monitor["spec"]["selector"]["matchLabels"]["app"]
        pod = next(o for o in release if o["kind"] in ("Rollout", "Deployment") and o["metadata"]["name"] == app)
        ports = {
            p["name"]: p["containerPort"] for c in pod["spec"]["template"]["spec"]["containers"] for p in c["ports"]
        }
        [policy] = [p for p in policies.values() if p.get("selector") == {"matchLabels": {"app": app}}]
        for endpoint in monitor["spec"]["podMetricsEndpoints"]:
            assert policy["portLevelMtls"] == {str(ports[endpoint["port"]]): {"mode": "PERMISSIVE"}}
            assert policy["mtls"] == {"mode": "STRICT"}


@pytest.mark.parametrize("stack", STACKS)
def test_network_policies_admit_the_gateway_and_reach_istiod(request: pytest.FixtureRequest, stack: str) -> None:
    plan = stack_plan(request, stack)
    policies = {
        r.inputs["metadata"]["name"]: r.inputs["spec"]
        for r in objects(plan, "NetworkPolicy")
        if r.inputs["metadata"]["namespace"] == "philosophy-app"
    }
    gateway = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "istio-ingress"}}}]
    for app, port in (("philosophy-api", 3000), ("philosophy-websocket", 3001)):
        [served] = [rule for rule in policies[app]["ingress"] if {"protocol": "TCP", "port": port} in rule["ports"]]
        assert served["from"] == gateway, app
    mesh = policies["allow-mesh"]
    istiod = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "istio-system"}}}]
    assert mesh["podSelector"] == {} and {"to": istiod, "ports": [{"protocol": "TCP", "port": 15012}]} in mesh["egress"]


@pytest.mark.parametrize("stack", STACKS)
def test_the_meshs_spans_go_to_the_collector_sampled_like_the_sdks(request: pytest.FixtureRequest, stack: str) -> None:
    plan = stack_plan(request, stack)
    mesh_config = releases(plan)["istiod"]["values"]["meshConfig"]
    [provider] = mesh_config["extensionProviders"]
    # istiod looks the service up by its fully qualified name.
    assert provider["opentelemetry"] == {"service": "otel-collector.tracing.svc.cluster.local", "port": 4317}
    telemetry = named(plan, "Telemetry", "mesh-default", "istio-system")["spec"]
    [tracing] = telemetry["tracing"]
    assert tracing["providers"] == [{"name": provider["name"]}]
    ratio = stack_yaml(stack, KUBERNETES)["config"]["philosophy-kubernetes:tracing"]["sampleRatio"]
    assert tracing["randomSamplingPercentage"] == pytest.approx(ratio * 100)


def test_the_collector_address_is_the_tracing_collectors_service() -> None:
    assert otlp_service() == ("otel-collector.tracing.svc.cluster.local", 4317)


@pytest.mark.parametrize("stack", STACKS)
def test_the_service_and_its_policies_wait_for_istiod(request: pytest.FixtureRequest, stack: str) -> None:
    plan = stack_plan(request, stack)
    istiod = next(r for r in plan.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["chart"] == "istiod")
    for policy in objects(plan, "PeerAuthentication"):
        assert istiod.urn in policy.dependencies


def test_the_pinned_istio_supports_every_kubernetes_minor_the_cluster_config_accepts() -> None:
    from components.kubernetes.platform.service_mesh import ISTIO_VERSION
    from philosophy_infra.support_calendar import EKS_STANDARD_SUPPORT_END, istio_supports

    for minor in EKS_STANDARD_SUPPORT_END:
        assert istio_supports(ISTIO_VERSION, minor), minor
    assert not istio_supports(ISTIO_VERSION, "1.28") and not istio_supports("1.99.0", "1.35")


def test_a_cluster_istio_does_not_support_is_refused_before_the_cluster_is_touched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from philosophy_infra import support_calendar
    from philosophy_infra.config.base import StackConfigError
    from tests.conftest import run_stack

    monkeypatch.setitem(support_calendar.ISTIO_KUBERNETES, "1.31", ("1.33", "1.34"))
    with pytest.raises(StackConfigError) as info:
        run_stack("staging")
    text = str(info.value)
    assert "philosophy-infra:cluster.kubernetesVersion" in text and '"1.35"' in text and "Istio 1.31.1" in text
