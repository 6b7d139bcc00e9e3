"""Grafana (Kubernetes layer, kube-prometheus-stack's subchart): its values exist in the pinned charts, its admin
password is generated in the cluster, its data sources include the tracing backend, and every dashboard in
monitoring/dashboards is loaded, with queries promtool parses and CloudWatch metrics YACE really exports."""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from philosophy_infra.stack_plan import StackPlan
from tests.chart_values import unknown_keys
from tests.conftest import KUBERNETES, ROOT, encode, raw_config, run_stack, stack_yaml
from tests.prometheus_tools import prometheus_tool

DATA = Path(__file__).parent / "data"
DASHBOARDS = ROOT / "monitoring" / "dashboards"
# YACE's names for the CloudWatch metrics the exporter reads (`aws_<namespace>_<metric in snake case>_<statistic>`,
# its own tests: pkg/promutil, migrate_test.go), written out here rather than derived by the code under test.
YACE_NAMES = {
    "aws_rds_cpuutilization_average",
    "aws_rds_freeable_memory_minimum",
    "aws_rds_free_storage_space_minimum",
    "aws_rds_database_connections_maximum",
    "aws_rds_read_latency_average",
    "aws_rds_write_latency_average",
    "aws_elasticache_engine_cpuutilization_maximum",
    "aws_elasticache_database_memory_usage_percentage_maximum",
    "aws_elasticache_curr_connections_maximum",
    "aws_elasticache_evictions_sum",
    "aws_elasticache_replication_lag_maximum",
    "aws_es_cluster_status_red_maximum",
    "aws_es_cluster_status_yellow_maximum",
    "aws_es_free_storage_space_minimum",
    "aws_es_cpuutilization_maximum",
    "aws_es_jvmmemory_pressure_maximum",
}


def kps(plan: StackPlan) -> dict[str, Any]:
    [found] = [r for r in plan.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["chart"] == "kube-prometheus-stack"]
    return found.inputs


def named(plan: StackPlan, kind: str, name: str) -> dict[str, Any]:
    [found] = [r.inputs for r in plan.resources if r.type.endswith(f":{kind}") and r.inputs["metadata"]["name"] == name]
    return found


def crd_schema(file: str, version: str) -> dict[str, Any]:
    documents = [d for d in yaml.safe_load_all((DATA / "crds" / file).read_text()) if d]
    [served] = [v for d in documents for v in d["spec"]["versions"] if v["name"] == version]
    schema: dict[str, Any] = served["schema"]["openAPIV3Schema"]
    return schema


def queries() -> list[tuple[str, str]]:
    found = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            found += [(f"{path.stem}: {panel['title']}", t["expr"]) for t in panel.get("targets", [])]
    return found


def test_grafana_values_exist_in_the_pinned_charts(prod_plan: StackPlan) -> None:
    release = kps(prod_plan)
    values = release["values"]["grafana"]
    stack_defaults = yaml.safe_load((DATA / "charts" / "kube-prometheus-stack-88.5.3-values.yaml").read_text())
    grafana_defaults = yaml.safe_load((DATA / "charts" / "grafana-12.11.1-values.yaml").read_text())
    defaults = {**grafana_defaults, **stack_defaults["grafana"]}
    # `fullnameOverride` is read by the chart's helpers (`grafana.fullname`) though its values.yaml does not list
    # it; `storageClassName` is documented there in a comment only.
    assert unknown_keys(values, defaults, "grafana") == [
        "grafana.fullnameOverride",
        "grafana.persistence.storageClassName",
    ]
    assert "# storageClassName: default" in (DATA / "charts" / "grafana-12.11.1-values.yaml").read_text()


@pytest.mark.parametrize("stack", ["prod", "staging"])
def test_grafana_keeps_its_data_on_an_encrypted_volume_and_reads_the_tracing_backend(
    stack: str, request: pytest.FixtureRequest
) -> None:
    plan: StackPlan = request.getfixturevalue(f"{stack}_plan")
    values = kps(plan)["values"]["grafana"]
    settings = stack_yaml(stack, KUBERNETES)["config"]["philosophy-kubernetes:monitoring"]
    assert values["enabled"] is True
    persistence = values["persistence"]
    assert persistence["enabled"] is True and persistence["accessModes"] == ["ReadWriteOnce"]
    assert persistence["size"] == f"{settings.get('grafanaStorageGib', 10)}Gi"
    prometheus_volume = kps(plan)["values"]["prometheus"]["prometheusSpec"]["storageSpec"]["volumeClaimTemplate"]
    assert persistence["storageClassName"] == prometheus_volume["spec"]["storageClassName"]
    # One pod at a time on a ReadWriteOnce volume; no root init container.
    assert values["deploymentStrategy"] == {"type": "Recreate"} and values["initChownData"] == {"enabled": False}
    [jaeger] = values["additionalDataSources"]
    assert jaeger["type"] == "jaeger" and jaeger["url"] == "http://jaeger.tracing.svc:16686"
    prometheus = kps(plan)["values"]["prometheus"]["prometheusSpec"]
    assert values["nodeSelector"] == prometheus["nodeSelector"]


def test_the_admin_password_is_generated_once_in_the_cluster(prod_plan: StackPlan) -> None:
    values = kps(prod_plan)["values"]["grafana"]
    admin = values["admin"]
    external = named(prod_plan, "ExternalSecret", admin["existingSecret"])
    generator = named(prod_plan, "Password", admin["existingSecret"])
    jsonschema.validate(external, crd_schema("external-secrets.io_externalsecrets-v2.0.1.yaml", "v1"))
    jsonschema.validate(generator, crd_schema("generators.external-secrets.io_passwords-v2.0.1.yaml", "v1alpha1"))
    spec = external["spec"]
    assert spec["refreshInterval"] == "0s", "regenerated, it would no longer match Grafana's database"
    [source] = spec["dataFrom"]
    ref = source["sourceRef"]["generatorRef"]
    assert (ref["apiVersion"], ref["kind"]) == (generator["apiVersion"], generator["kind"])
    assert ref["name"] == generator["metadata"]["name"]
    assert set(spec["target"]["template"]["data"]) == {admin["userKey"], admin["passwordKey"]}
    assert generator["spec"]["length"] >= 24
    # Nothing in config or in the plan holds it.
    assert "adminPassword" not in values


def test_every_dashboard_file_is_loaded_by_the_sidecar(prod_plan: StackPlan) -> None:
    stack_defaults = yaml.safe_load((DATA / "charts" / "kube-prometheus-stack-88.5.3-values.yaml").read_text())
    sidecar = stack_defaults["grafana"]["sidecar"]["dashboards"]
    assert sidecar["enabled"] is True and sidecar["searchNamespace"] == "ALL"
    loaded = {}
    for r in prod_plan.of_type("kubernetes:core/v1:ConfigMap"):
        if (r.inputs["metadata"].get("labels") or {}).get(sidecar["label"]) == sidecar["labelValue"]:
            loaded.update(r.inputs["data"])
    files = {p.name: p.read_text() for p in DASHBOARDS.glob("*.json")}
    assert set(files) == {"service.json", "data-stores.json"} and loaded == files
    uids = [json.loads(text)["uid"] for text in files.values()]
    assert len(set(uids)) == len(uids)


def test_dashboards_show_what_the_issue_asks_for() -> None:
    text = {p.stem: p.read_text() for p in DASHBOARDS.glob("*.json")}
    # Request rate, errors, latency, LLM calls, queue depth; and the data stores.
    for metric in ("http_requests_total", "http_request_duration_seconds_bucket", "claude_api_requests_total",
                   'redis_key_size{key=\\"ai-generation\\"}'):  # fmt: skip
        assert metric in text["service"], metric
    for metric in ("pg_stat_database_numbackends", "aws_rds_", "aws_elasticache_", "aws_es_"):
        assert metric in text["data-stores"], metric


def test_cloudwatch_metrics_in_dashboards_are_ones_yace_exports() -> None:
    used = {m for _, expr in queries() for m in re.findall(r"\baws_[a-z0-9_]+", expr)}
    assert used and used <= YACE_NAMES, used - YACE_NAMES


def promtool() -> str:
    return prometheus_tool("promtool")


def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    tool = promtool()
    # promtool parses expressions in rule files: each query as a recording rule.
    recording = [{"record": f"dashboard:query_{i}", "expr": expr} for i, (_, expr) in enumerate(queries())]
    rules = {"groups": [{"name": "dashboards", "rules": recording}]}
    path = tmp_path / "queries.yaml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run([tool, "check", "rules", str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    # And a broken one is refused: the check is a real parse.
    broken = copy.deepcopy(rules)
    broken["groups"][0]["rules"] = [{"record": "dashboard:broken", "expr": "sum by (service (rate(x[5m]))"}]
    path.write_text(yaml.safe_dump(broken))
    assert subprocess.run([tool, "check", "rules", str(path)], capture_output=True, timeout=120).returncode != 0


def test_grafana_storage_size_comes_from_config() -> None:
    raw = raw_config("staging", KUBERNETES)
    raw["philosophy-kubernetes:monitoring"]["grafanaStorageGib"] = 25
    plan = run_stack("staging", kubernetes_config=encode(raw))
    assert kps(plan)["values"]["grafana"]["persistence"]["size"] == "25Gi"
