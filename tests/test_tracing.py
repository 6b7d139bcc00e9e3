"""Tracing (Kubernetes layer): the service's OTLP reaches the collectors, the collectors reach Jaeger, Jaeger
stores in OpenSearch (prod, signed with its own IAM role) or Badger (staging, on a volume), Grafana reads Jaeger;
and the search setup Job gives each OpenSearch tenant exactly its indices, with the retention from config.

Chart values are checked against the pinned charts' values.yaml (vendored)."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.kubernetes.app import search_setup_script as script
from components.kubernetes.app.search_setup import SCRIPT
from philosophy_infra.arns import role_arn_without_path
from philosophy_infra.layers import LayerName
from philosophy_infra.plan import RecordedResource
from philosophy_infra.stack_plan import StackPlan
from tests.chart_values import unknown_keys
from tests.conftest import KUBERNETES, encode, raw_config, release_for, run_stack, stack_yaml

CHARTS = Path(__file__).parent / "data" / "charts"
STACKS = ["prod", "staging"]


def release(plan: StackPlan, chart: str) -> dict[str, Any]:
    [found] = [r for r in plan.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["chart"] == chart]
    return found.inputs


def tracing_config(stack: str) -> dict[str, Any]:
    config: dict[str, Any] = stack_yaml(stack, KUBERNETES)["config"]["philosophy-kubernetes:tracing"]
    return config


def named(plan: StackPlan, type_suffix: str, name: str) -> RecordedResource:
    [found] = [r for r in plan.resources if r.type.endswith(type_suffix) and r.inputs["metadata"]["name"] == name]
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_chart_values_exist_in_the_pinned_charts(stack: str, request: pytest.FixtureRequest) -> None:
    plan: StackPlan = request.getfixturevalue(f"{stack}_plan")
    collector, jaeger = release(plan, "opentelemetry-collector"), release(plan, "jaeger")
    assert (collector["version"], jaeger["version"]) == ("0.170.0", "4.11.1")
    assert collector["namespace"] == jaeger["namespace"] == "tracing"
    defaults = yaml.safe_load((CHARTS / "opentelemetry-collector-0.170.0-values.yaml").read_text())
    # `minAvailable` is documented in a comment of the chart's values.yaml only.
    assert unknown_keys(collector["values"], defaults) == ["podDisruptionBudget.minAvailable"]
    assert "#   minAvailable: 2" in (CHARTS / "opentelemetry-collector-0.170.0-values.yaml").read_text()
    defaults = yaml.safe_load((CHARTS / "jaeger-4.11.1-values.yaml").read_text())
    # The chart's Deployment template reads these, which its values.yaml does not list (jaeger-deploy.yaml).
    read_by_the_template = ["jaeger.podLabels", "jaeger.resources", *(["jaeger.strategy"] if stack == "prod" else [])]
    assert sorted(unknown_keys(jaeger["values"], defaults)) == read_by_the_template


@pytest.mark.parametrize("stack", STACKS)
def test_every_tracing_pod_passes_pod_security_restricted(stack: str, request: pytest.FixtureRequest) -> None:
    plan: StackPlan = request.getfixturevalue(f"{stack}_plan")
    namespace = named(plan, ":Namespace", "tracing").inputs["metadata"]["labels"]
    assert namespace["pod-security.kubernetes.io/enforce"] == "restricted"
    collector = release(plan, "opentelemetry-collector")["values"]
    jaeger = release(plan, "jaeger")["values"]["jaeger"]
    for pod, container in (
        (collector["podSecurityContext"], collector["securityContext"]),
        (jaeger["podSecurityContext"], jaeger["securityContext"]),
    ):
        assert pod["runAsNonRoot"] is True and pod["seccompProfile"] == {"type": "RuntimeDefault"}
        assert container["allowPrivilegeEscalation"] is False and container["capabilities"] == {"drop": ["ALL"]}


@pytest.mark.parametrize("stack", STACKS)
def test_spans_flow_from_the_service_to_the_collectors_to_jaeger_and_grafana_reads_them(
    stack: str, request: pytest.FixtureRequest
) -> None:
    plan: StackPlan = request.getfixturevalue(f"{stack}_plan")
    collector = release(plan, "opentelemetry-collector")["values"]
    jaeger = release(plan, "jaeger")
    # The service's SDKs (each of its pods, the release objects Argo CD syncs) send to the collectors' Service
    # (the chart names it after fullnameOverride), each under its own name.
    workloads = [o for o in release_for(stack) if o["kind"] in ("Rollout", "Deployment")]
    assert sorted(o["metadata"]["name"] for o in workloads) == [
        "claude-worker",
        "philosophy-api",
        "philosophy-websocket",
    ]
    for workload in workloads:
        [container] = workload["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e["value"] for e in container["env"]}
        assert env["OTEL_SERVICE_NAME"] == workload["metadata"]["name"]
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == f"http://{collector['fullnameOverride']}.tracing.svc:4317"
        assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "grpc" and env["OTEL_TRACES_EXPORTER"] == "otlp"
        assert env["ENABLE_TRACING"] == "true" and env["SEARCH_INDEX_PREFIX"] == "philosophy-"
        assert float(env["OTEL_TRACES_SAMPLER_ARG"]) == tracing_config(stack)["sampleRatio"]
    # And where its search indices are (the seed's ELASTICSEARCH_URL), as the AWS layer exports the domain.
    endpoints = named(plan, ":ConfigMap", "app-endpoints").inputs["data"]
    search = plan.layer(LayerName.AWS).outputs["searchEndpoint"]
    assert endpoints["SEARCH_URL"] == f"https://{search}"
    config = collector["alternateConfig"]
    assert set(config["receivers"]) == {"otlp"}
    assert set(config["receivers"]["otlp"]["protocols"]) == {"grpc", "http"}
    assert collector["mode"] == "deployment" and collector["replicaCount"] == tracing_config(stack)["collectorReplicas"]
    assert collector["image"]["repository"] == "otel/opentelemetry-collector-k8s"
    [exporter] = config["exporters"].values()
    # ... to Jaeger's one Service (its full name), on its OTLP port.
    assert exporter["endpoint"] == f"{jaeger['values']['fullnameOverride']}.tracing.svc:4317"
    pipeline = config["service"]["pipelines"]["traces"]
    assert pipeline["receivers"] == ["otlp"] and pipeline["exporters"] == list(config["exporters"])
    # Every processor is defined, but the one the kubernetesAttributes preset adds.
    assert set(pipeline["processors"]) - set(config["processors"]) == {"k8s_attributes"}
    assert collector["presets"]["kubernetesAttributes"]["enabled"] is True
    assert pipeline["processors"][0] == "memory_limiter"
    assert all(collector["ports"][p] == {"enabled": False} for p in ("jaeger-compact", "jaeger-thrift", "zipkin"))
    jaeger_config = jaeger["values"]["userconfig"]
    receivers = jaeger_config["receivers"]["otlp"]["protocols"]
    assert receivers["grpc"]["endpoint"] == "0.0.0.0:4317", "the OTel default is localhost"
    assert jaeger_config["extensions"]["healthcheckv2"]["http"]["endpoint"] == "0.0.0.0:13133"
    assert set(jaeger_config["service"]["extensions"]) == set(jaeger_config["extensions"])
    assert (
        jaeger_config["extensions"]["jaeger_query"]["storage"]["traces"]
        in (jaeger_config["extensions"]["jaeger_storage"]["backends"])
    )
    # Grafana's data source is Jaeger's query port on that Service, which the NetworkPolicy opens to monitoring.
    grafana = release(plan, "kube-prometheus-stack")["values"]["grafana"]
    [source] = grafana["additionalDataSources"]
    assert source["url"] == f"http://{jaeger['values']['fullnameOverride']}.tracing.svc:16686"
    policy = named(plan, ":NetworkPolicy", "jaeger").inputs["spec"]
    from_monitoring = next(rule for rule in policy["ingress"] if rule["ports"] == [{"protocol": "TCP", "port": 16686}])
    assert from_monitoring["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "monitoring"
    }
    # The app's pods may reach the collectors, which take OTLP from any namespace.
    egress = named(plan, ":NetworkPolicy", "allow-otlp").inputs["spec"]["egress"][0]
    assert egress["to"][0]["podSelector"] == named(plan, ":NetworkPolicy", "collector").inputs["spec"]["podSelector"]


def test_prod_stores_traces_in_opensearch_signed_with_jaegers_own_role(prod_plan: StackPlan) -> None:
    aws = prod_plan.layer(LayerName.AWS).outputs
    values = release(prod_plan, "jaeger")["values"]
    config = values["userconfig"]
    [backend] = config["extensions"]["jaeger_storage"]["backends"].values()
    store = backend["opensearch"]
    assert store["server_urls"] == [f"https://{aws['searchEndpoint']}"]
    assert store["auth"] == {"authenticator": "sigv4auth"}
    assert config["extensions"]["sigv4auth"] == {"region": "eu-west-1", "service": "es"}
    assert all(index["replicas"] == aws["searchIndexReplicas"] for index in store["indices"].values())
    retention = tracing_config("prod")["retentionDays"]
    assert store["max_span_age"] == f"{retention * 24}h"
    # Signed writes need Jaeger 2.20.0 or newer (jaegertracing/jaeger#8760); the chart's default is 2.19.0.
    major, minor, _ = (int(p) for p in values["jaeger"]["image"]["tag"].split("."))
    assert (major, minor) >= (2, 20)
    account = values["jaeger"]["serviceAccount"]
    assert account["annotations"] == {"eks.amazonaws.com/role-arn": aws["serviceAccountRoleArns"]["jaeger"]}
    # The role the domain lets in, and the IRSA trust of exactly this account.
    domain = prod_plan.layer(LayerName.AWS).one("aws:opensearch/domain:Domain").inputs
    principals = json.loads(domain["accessPolicies"])["Statement"][0]["Principal"]["AWS"]
    assert aws["serviceAccountRoleArns"]["jaeger"] in principals
    role = prod_plan.layer(LayerName.AWS).one("aws:iam/role:Role", "workload-roles-jaeger-role")
    assert "system:serviceaccount:tracing:jaeger" in role.inputs["assumeRolePolicy"]
    assert not any(r.type.endswith(":PersistentVolumeClaim") for r in prod_plan.resources if "badger" in r.name)
    # No single Jaeger: two, rolled one at a time, kept through node drains by a budget.
    jaeger = values["jaeger"]
    assert jaeger["replicas"] == 2 and jaeger["strategy"]["rollingUpdate"] == {"maxUnavailable": 0}
    budget = named(prod_plan, ":PodDisruptionBudget", "jaeger").inputs
    assert budget["metadata"]["namespace"] == "tracing" and budget["spec"]["minAvailable"] == 1
    assert budget["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": "jaeger"}
    # Jaeger starts after the search setup Job, which allows it to write its index templates.
    by_urn = {r.urn: r for r in prod_plan.resources}
    seen, todo = set(), [next(r.urn for r in prod_plan.resources if r.name == "tracing-jaeger")]
    while todo:
        urn = todo.pop()
        if urn not in seen:
            seen.add(urn)
            todo += by_urn[urn].dependencies if urn in by_urn else []
    assert next(r.urn for r in prod_plan.resources if r.name == "search-job") in seen


def test_staging_keeps_traces_in_badger_on_a_volume(staging_plan: StackPlan) -> None:
    values = release(staging_plan, "jaeger")["values"]
    [backend] = values["userconfig"]["extensions"]["jaeger_storage"]["backends"].values()
    badger = backend["badger"]
    settings = tracing_config("staging")
    assert badger["ephemeral"] is False, "ephemeral keeps everything in memory"
    assert badger["ttl"]["spans"] == f"{settings['retentionDays'] * 24}h"
    claim = named(staging_plan, ":PersistentVolumeClaim", "jaeger-badger").inputs
    assert claim["spec"]["resources"]["requests"]["storage"] == f"{settings['badgerVolumeGib']}Gi"
    assert claim["spec"]["storageClassName"] == "gp3"
    jaeger = values["jaeger"]
    [volume] = [v for v in jaeger["extraVolumes"] if "persistentVolumeClaim" in v]
    assert volume["persistentVolumeClaim"]["claimName"] == "jaeger-badger"
    [mount] = [m for m in jaeger["extraVolumeMounts"] if m["name"] == volume["name"]]
    assert badger["directories"]["keys"].startswith(mount["mountPath"] + "/")
    assert badger["directories"]["values"].startswith(mount["mountPath"] + "/")
    # One writer: one pod, and the chart replaces rather than rolls it.
    assert jaeger["replicas"] == 1 and "strategy" not in jaeger
    assert "sigv4auth" not in values["userconfig"]["extensions"]


def test_a_jaeger_config_change_rolls_its_pod() -> None:
    raw = raw_config("staging", KUBERNETES)
    before = release(run_stack("staging", kubernetes_config=encode(raw)), "jaeger")["values"]["jaeger"]["podLabels"]
    raw["philosophy-kubernetes:tracing"]["retentionDays"] = 5
    after = release(run_stack("staging", kubernetes_config=encode(raw)), "jaeger")["values"]["jaeger"]["podLabels"]
    assert before["config-hash"] != after["config-hash"]


def test_an_unknown_trace_storage_is_refused_naming_the_key() -> None:
    from philosophy_infra.config.base import StackConfigError

    raw = raw_config("staging", KUBERNETES)
    raw["philosophy-kubernetes:tracing"]["storage"] = "cassandra"
    with pytest.raises(StackConfigError) as info:
        run_stack("staging", kubernetes_config=encode(raw))
    assert "philosophy-kubernetes:tracing.storage" in str(info.value)


def plan_of(plan: StackPlan) -> dict[str, Any]:
    files = named(plan, ":ConfigMap", "search-setup").inputs["data"]
    assert files["setup.py"] == SCRIPT.read_text()
    loaded: dict[str, Any] = json.loads(files["plan.json"])
    return loaded


def test_search_setup_runs_as_the_domains_master_and_maps_each_tenant_to_its_indices(prod_plan: StackPlan) -> None:
    aws_plan = prod_plan.layer(LayerName.AWS)
    roles = aws_plan.outputs["serviceAccountRoleArns"]
    domain = aws_plan.one("aws:opensearch/domain:Domain").inputs
    master = roles["search-admin"]
    # The domain's master is the role as its sessions show it (no path); the Job signs in as that role.
    assert domain["advancedSecurityOptions"]["masterUserOptions"]["masterUserArn"] == role_arn_without_path(master)
    account = named(prod_plan, ":ServiceAccount", "search-admin").inputs
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == master
    job = named(prod_plan, ":Job", next(
        r.inputs["metadata"]["name"] for r in prod_plan.of_type("kubernetes:batch/v1:Job")
        if r.inputs["metadata"]["name"].startswith("search-setup-")
    )).inputs  # fmt: skip
    pod = job["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "search-admin"
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["SEARCH_ENDPOINT"] == f"https://{aws_plan.outputs['searchEndpoint']}"
    steps = {step.get("path") or step["ism_policy"]: step for step in plan_of(prod_plan)["steps"]}
    mappings = {
        path.rsplit("/", 1)[1]: step["body"]["backend_roles"]
        for path, step in steps.items()
        if "/rolesmapping/" in path
    }
    operators = aws_plan.outputs["searchOperatorRoleArns"]

    def both_forms(*arns: str) -> list[str]:
        return sorted({form for arn in arns for form in (arn, role_arn_without_path(arn))})

    assert mappings == {
        "all_access": both_forms(master, *operators),
        "security_manager": both_forms(master, *operators),
        "philosophy_search": both_forms(roles["philosophy-api"]),
        "jaeger_traces": both_forms(roles["jaeger"]),
    }
    # The roles carry a path, so the session's form really differs from the role's.
    assert role_arn_without_path(roles["jaeger"]) != roles["jaeger"]
    index_patterns = {
        path.rsplit("/", 1)[1]: [p for perm in step["body"]["index_permissions"] for p in perm["index_patterns"]]
        for path, step in steps.items()
        if "/roles/" in path
    }
    assert index_patterns == {"philosophy_search": ["philosophy-*"], "jaeger_traces": ["jaeger-*"]}
    # Roles exist before anything maps to them.
    order = list(steps)
    for role in ("philosophy_search", "jaeger_traces"):
        assert order.index(f"/_plugins/_security/api/roles/{role}") < order.index(
            f"/_plugins/_security/api/rolesmapping/{role}"
        )
    # Every role mapped is let in by the domain's access policy, which names the roles themselves (with path).
    principals = set(json.loads(domain["accessPolicies"])["Statement"][0]["Principal"]["AWS"])
    assert {master, *operators, roles["philosophy-api"], roles["jaeger"]} <= principals


@pytest.mark.parametrize("stack", STACKS)
def test_search_indices_get_a_replica_per_other_zone_and_traces_expire(
    stack: str, request: pytest.FixtureRequest
) -> None:
    plan: StackPlan = request.getfixturevalue(f"{stack}_plan")
    steps = plan_of(plan)["steps"]
    [template] = [s for s in steps if s.get("path") == "/_index_template/philosophy"]
    zones = stack_yaml(stack)["config"]["philosophy-infra:search"].get("zoneCount", 1)
    assert template["body"]["template"]["settings"]["index"]["number_of_replicas"] == zones - 1
    assert template["body"]["index_patterns"] == ["philosophy-*"]
    [ism] = [s for s in steps if "ism_policy" in s]
    policy = ism["policy"]
    days = tracing_config(stack)["retentionDays"]
    [hot] = [state for state in policy["states"] if state["name"] == policy["default_state"]]
    assert hot["transitions"] == [{"state_name": "delete", "conditions": {"min_index_age": f"{days}d"}}]
    [delete] = [state for state in policy["states"] if state["name"] == "delete"]
    assert delete["actions"] == [{"delete": {}}]
    # The names Jaeger gives its daily indices fall under the policy; the service's never do.
    patterns = policy["ism_template"][0]["index_patterns"]
    for index in ("jaeger-span-2026-11-26", "jaeger-service-2026-11-26"):
        assert any(fnmatch.fnmatch(index, p) for p in patterns), index
    assert not any(fnmatch.fnmatch("philosophy-questions", p) for p in patterns)


def test_the_scripts_own_checks_accept_the_plan_and_it_runs_in_order(prod_plan: StackPlan) -> None:
    plan = plan_of(prod_plan)
    script.parse_plan(plan)
    sent: list[tuple[str, str]] = []

    def send(method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        sent.append((method, path))
        # No retention policy yet: the script creates it.
        return (404, b"{}") if method == "GET" else (200, b"{}")

    script.run(plan, "https://search.example", send, lambda line: None)
    assert sent[-2:] == [
        ("GET", "/_plugins/_ism/policies/jaeger-retention"),
        ("PUT", "/_plugins/_ism/policies/jaeger-retention"),
    ]
    assert len(sent) == len(plan["steps"]) + 1


def test_prometheus_scrapes_the_collectors_and_jaeger_through_their_own_metrics(prod_plan: StackPlan) -> None:
    collector = release(prod_plan, "opentelemetry-collector")["values"]
    jaeger_config = release(prod_plan, "jaeger")["values"]["userconfig"]
    ports = set()
    for config in (collector["alternateConfig"], jaeger_config):
        [reader] = config["service"]["telemetry"]["metrics"]["readers"]
        ports.add(reader["pull"]["exporter"]["prometheus"]["port"])
        # Not localhost, which is the collector's default: Prometheus scrapes from another pod.
        assert reader["pull"]["exporter"]["prometheus"]["host"] != "localhost"
    [port] = ports
    assert collector["ports"]["metrics"] == {"enabled": True}, "declared on the pod, which a PodMonitor needs"
    monitors = {
        r.inputs["metadata"]["name"]: r.inputs["spec"]
        for r in prod_plan.resources
        if r.type.endswith(":PodMonitor") and r.inputs["metadata"]["namespace"] == "tracing"
    }
    assert set(monitors) == {"opentelemetry-collector", "jaeger"}
    for name, spec in monitors.items():
        assert spec["selector"]["matchLabels"] == {"app.kubernetes.io/name": name}
        assert [e["portNumber"] for e in spec["podMetricsEndpoints"]] == [port]
        policy = named(prod_plan, ":NetworkPolicy", "collector" if name != "jaeger" else "jaeger").inputs["spec"]
        assert policy["podSelector"]["matchLabels"] == spec["selector"]["matchLabels"]
        assert any(
            rule["ports"] == [{"protocol": "TCP", "port": port}]
            and rule["from"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "monitoring"}
            for rule in policy["ingress"]
        )
