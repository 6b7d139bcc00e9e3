"""The exporters in `monitoring` (Kubernetes layer): postgres_exporter as the monitoring user over verified TLS,
YACE with its own role and tag discovery, each with values that exist in its pinned chart (vendored) and pods
that pass Pod Security `restricted`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.kubernetes.app.database_schema import rds_ca_bundle
from components.kubernetes.platform.exporters import CLOUDWATCH_METRICS, yace_config
from philosophy_infra.layers import LayerName
from philosophy_infra.plan import RecordedResource
from philosophy_infra.stack_plan import StackPlan
from tests.chart_values import unknown_keys
from tests.conftest import ROOT

CHARTS = Path(__file__).parent / "data" / "charts"
EXPORTERS = {
    "prometheus-redis-exporter": "6.29.0",
    "prometheus-postgres-exporter": "8.2.0",
    "prometheus-yet-another-cloudwatch-exporter": "0.47.0",
}


def release(plan: StackPlan, chart: str) -> RecordedResource:
    [found] = [r for r in plan.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["chart"] == chart]
    return found


def named(plan: StackPlan, kind: str, name: str) -> dict[str, Any]:
    [found] = [
        r.inputs
        for r in plan.resources
        if r.type.endswith(f":{kind}") and r.inputs.get("metadata", {}).get("name") == name
    ]
    return found


@pytest.mark.parametrize(("chart", "version"), EXPORTERS.items())
def test_every_exporter_is_pinned_scraped_restricted_and_uses_only_its_charts_values(
    chart: str, version: str, prod_plan: StackPlan
) -> None:
    exporter = release(prod_plan, chart).inputs
    values = exporter["values"]
    assert exporter["version"] == version and exporter["namespace"] == "monitoring"
    defaults = yaml.safe_load((CHARTS / f"{chart}-{version}-values.yaml").read_text())
    assert unknown_keys(values, defaults) == []
    assert values["serviceMonitor"] == {"enabled": True}
    pod, container = values["podSecurityContext"], values["securityContext"]
    assert pod["runAsNonRoot"] is True and isinstance(pod["runAsUser"], int) and pod["runAsUser"] > 0
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["allowPrivilegeEscalation"] is False and container["capabilities"] == {"drop": ["ALL"]}
    assert values["resources"]["limits"]["memory"]
    # On the monitoring node group, like Prometheus.
    prometheus = release(prod_plan, "kube-prometheus-stack").inputs["values"]["prometheus"]["prometheusSpec"]
    assert values["nodeSelector"] == prometheus["nodeSelector"]


def test_postgres_exporter_logs_in_as_the_monitoring_user_and_verifies_the_server(prod_plan: StackPlan) -> None:
    aws = prod_plan.layer(LayerName.AWS).outputs
    values = release(prod_plan, "prometheus-postgres-exporter").inputs["values"]
    source = values["config"]["datasource"]
    assert source["host"] == aws["databaseEndpoint"] and source["port"] == str(aws["databasePort"])
    assert source["database"] == aws["databaseName"]
    # The chart builds `host:port/db?sslmode=<sslmode>&<extraParams>`: libpq verifies the name and the chain.
    assert source["sslmode"] == "verify-full" and source["extraParams"] == "sslrootcert=/etc/rds-ca/ca.pem"
    assert source["userSecret"] == {"name": "database-monitor", "key": "username"}
    assert source["passwordSecret"] == {"name": "database-monitor", "key": "password"}
    assert "password" not in source or source["password"] is None
    [mount] = values["extraVolumeMounts"]
    [volume] = values["extraVolumes"]
    assert mount["mountPath"] == "/etc/rds-ca" and volume == {"name": mount["name"], "configMap": {"name": "rds-ca"}}
    ca = [
        r.inputs
        for r in prod_plan.of_type("kubernetes:core/v1:ConfigMap")
        if r.inputs["metadata"] == {"name": "rds-ca", "namespace": "monitoring"}
    ]
    assert [c["data"]["ca.pem"] for c in ca] == [rds_ca_bundle("eu-west-1")]
    synced = named(prod_plan, "ExternalSecret", "database-monitor")
    assert synced["metadata"]["namespace"] == "monitoring"
    assert synced["spec"]["secretStoreRef"] == {"kind": "SecretStore", "name": "database-monitor-reader"}
    assert {d["remoteRef"]["property"] for d in synced["spec"]["data"]} == {"username", "password"}
    assert {d["remoteRef"]["key"] for d in synced["spec"]["data"]} == {aws["databaseMonitorSecretArn"]}
    # The alert's metrics are the exporter's: connections per database, and the server's limit.
    rules = (ROOT / "monitoring" / "rules" / "philosophy.rules.yaml").read_text()
    assert "pg_stat_database_numbackends" in rules and "pg_settings_max_connections" in rules
    assert values["config"].get("disableSettingsMetrics", False) is False


def test_yace_finds_this_environments_data_stores_by_tag_with_a_read_only_role(prod_plan: StackPlan) -> None:
    aws_plan = prod_plan.layer(LayerName.AWS)
    values = release(prod_plan, "prometheus-yet-another-cloudwatch-exporter").inputs["values"]
    role_arn = aws_plan.outputs["serviceAccountRoleArns"]["cloudwatch-exporter"]
    assert values["serviceAccount"] == {
        "name": "cloudwatch-exporter",
        "annotations": {"eks.amazonaws.com/role-arn": role_arn},
    }
    config = yaml.safe_load(values["config"])
    assert config["apiVersion"] == "v1alpha1" and config["sts-region"] == "eu-west-1"
    jobs = {job["type"]: job for job in config["discovery"]["jobs"]}
    assert set(jobs) == {"AWS/RDS", "AWS/ElastiCache", "AWS/ES"}
    for job in jobs.values():
        assert job["regions"] == ["eu-west-1"]
        assert job["searchTags"] == [
            {"key": "Service", "value": "^philosophy$"},
            {"key": "Environment", "value": "^prod$"},
        ]
        assert all(len(m["statistics"]) == 1 and m["period"] == m["length"] == 300 for m in job["metrics"])
    # The tags it searches are the ones the AWS layer's provider puts on everything.
    aws_provider = aws_plan.one("pulumi:providers:aws", "aws").inputs
    tags = json.loads(aws_provider["defaultTags"])["tags"]
    assert tags["Service"] == "philosophy" and tags["Environment"] == "prod"
    assert {m["name"] for m in jobs["AWS/RDS"]["metrics"]} >= {"CPUUtilization", "FreeStorageSpace"}
    policy = json.loads(
        aws_plan.one("aws:iam/rolePolicy:RolePolicy", "workload-roles-cloudwatch-exporter-inline").inputs["policy"]
    )
    [statement] = policy["Statement"]
    assert sorted(statement["Action"]) == [
        "cloudwatch:GetMetricData",
        "cloudwatch:GetMetricStatistics",
        "cloudwatch:ListMetrics",
        "tag:GetResources",
    ]
    trust = json.loads(
        aws_plan.one("aws:iam/role:Role", "workload-roles-cloudwatch-exporter-role").inputs["assumeRolePolicy"]
    )
    assert "system:serviceaccount:monitoring:cloudwatch-exporter" in json.dumps(trust)


def test_yace_config_never_looks_like_a_helm_template() -> None:
    # The chart renders `config` through `tpl`: `{{` would be evaluated, not passed on.
    text = yace_config("eu-central-1", "staging")
    assert "{{" not in text and "}}" not in text
    assert len(yaml.safe_load(text)["discovery"]["jobs"]) == len(CLOUDWATCH_METRICS)
