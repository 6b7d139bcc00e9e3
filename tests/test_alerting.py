"""Where Prometheus's alerts go: receivers configured once (AWS layer), their secrets in Secrets Manager read by
one IRSA role, synced by External Secrets into the Secret Alertmanager mounts, and an Alertmanager config that
amtool accepts. amtool comes from Debian (`./scripts/install-prometheus-tools.sh`, which CI runs); without it
the config test skips, saying so, and with CI=true it fails instead."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.kubernetes.platform.monitoring import alertmanager_config
from philosophy_infra.config.base import StackConfigError
from philosophy_infra.layers import LayerName
from philosophy_infra.stack_plan import StackPlan
from tests.conftest import encode, raw_config, run_stack
from tests.prometheus_tools import prometheus_tool

CHART_VALUES = Path(__file__).parent / "data" / "charts" / "kube-prometheus-stack-88.5.3-values.yaml"
RECEIVERS = [
    {"name": "oncall", "type": "pagerduty", "severities": ["critical"]},
    {"name": "team-chat", "type": "slack", "severities": ["critical", "warning"]},
]


def amtool() -> str:
    return prometheus_tool("amtool")


def kps_values(plan: StackPlan) -> dict[str, Any]:
    [kps] = [r for r in plan.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["chart"] == "kube-prometheus-stack"]
    values: dict[str, Any] = kps.inputs["values"]
    return values


@pytest.fixture(scope="module")
def with_receivers() -> StackPlan:
    raw = raw_config("staging")
    raw["philosophy-infra:alerting"] = {"receivers": RECEIVERS}
    return run_stack("staging", encode(raw))


def test_without_receivers_alerts_stay_in_the_uis(prod_plan: StackPlan) -> None:
    alertmanager = kps_values(prod_plan)["alertmanager"]
    assert alertmanager["config"]["route"]["receiver"] == "null" and alertmanager["config"]["route"]["routes"] == []
    assert alertmanager["alertmanagerSpec"]["secrets"] == []
    assert not [
        s for s in prod_plan.of_type("aws:secretsmanager/secret:Secret") if "/alerting/" in s.inputs.get("name", "")
    ]


def test_each_receiver_gets_an_empty_secret_only_its_reader_may_read(with_receivers: StackPlan) -> None:
    aws = with_receivers.layer(LayerName.AWS)
    secrets = {
        s.inputs["name"]: s
        for s in aws.of_type("aws:secretsmanager/secret:Secret")
        if "/alerting/" in s.inputs.get("name", "")
    }
    assert set(secrets) == {"philosophy-staging/alerting/oncall", "philosophy-staging/alerting/team-chat"}
    # Created empty: the values are put out of band, never through Pulumi.
    assert not [v for v in aws.of_type("aws:secretsmanager/secretVersion:SecretVersion") if "alert" in v.name]
    exported = aws.outputs["alertReceivers"]
    policy = json.loads(aws.one("aws:iam/rolePolicy:RolePolicy", "alert-receivers-reader-inline").inputs["policy"])
    [read] = [st for st in policy["Statement"] if st["Sid"] == "ReadTheServiceSecrets"]
    assert sorted(read["Resource"]) == sorted(r["secretArn"] for r in exported.values())
    trust = json.loads(aws.one("aws:iam/role:Role", "alert-receivers-reader-role").inputs["assumeRolePolicy"])
    assert (
        "system:serviceaccount:monitoring:alert-receivers"
        in trust["Statement"][0]["Condition"]["StringEquals"].values()
    )


def test_alertmanager_mounts_the_synced_secret_and_routes_by_severity(with_receivers: StackPlan) -> None:
    kubernetes = with_receivers.layer(LayerName.KUBERNETES)
    exported = with_receivers.layer(LayerName.AWS).outputs["alertReceivers"]
    [external] = [
        r.inputs
        for r in kubernetes.resources
        if r.type == "kubernetes:external-secrets.io/v1:ExternalSecret"
        and r.inputs["metadata"]["name"] == "alert-receivers"
    ]
    assert {d["secretKey"]: d["remoteRef"]["key"] for d in external["spec"]["data"]} == {
        name: receiver["secretArn"] for name, receiver in exported.items()
    }
    alertmanager = kps_values(with_receivers)["alertmanager"]
    assert alertmanager["alertmanagerSpec"]["secrets"] == ["alert-receivers"]
    routes = {r["receiver"]: r["matchers"] for r in alertmanager["config"]["route"]["routes"]}
    assert routes == {"oncall": ['severity=~"critical"'], "team-chat": ['severity=~"critical|warning"']}
    text = json.dumps(alertmanager["config"])
    assert "/etc/alertmanager/secrets/alert-receivers/oncall" in text and "https://" not in text


def merged(defaults: Any, values: Any) -> Any:
    """Helm's merge of user values over a chart's: maps deep-merged, everything else replaced."""
    if isinstance(defaults, dict) and isinstance(values, dict):
        return {k: merged(defaults.get(k), values[k]) if k in values else defaults[k] for k in {*defaults, *values}}
    return values


@pytest.mark.parametrize(
    "receivers", [{}, {r["name"]: {**r, "secretArn": "arn:x"} for r in RECEIVERS}], ids=["none", "two"]
)
def test_amtool_accepts_the_config_alertmanager_gets(tmp_path: Path, receivers: dict[str, Any]) -> None:
    """What Alertmanager runs is the chart's default config with ours merged over it (kube-prometheus-stack
    88.5.3's values.yaml, vendored)."""
    chart = yaml.safe_load(CHART_VALUES.read_text())
    config = tmp_path / "alertmanager.yml"
    config.write_text(yaml.safe_dump(merged(chart["alertmanager"]["config"], alertmanager_config(receivers))))
    result = subprocess.run([amtool(), "check-config", str(config)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_receiver_named_null_is_refused() -> None:
    raw = raw_config("staging")
    raw["philosophy-infra:alerting"] = {"receivers": [{"name": "null", "type": "slack", "severities": ["warning"]}]}
    with pytest.raises(StackConfigError) as info:
        run_stack("staging", encode(raw))
    assert "philosophy-infra:alerting.receivers[0].name" in str(info.value)
