"""The alert rules (monitoring/rules/philosophy.rules.yaml), unit-tested with promtool against the test file next
to them: every alert fires on the series that must fire it, with its labels and annotations, and stays silent on
the series that must not. promtool comes from Debian's `prometheus` package (`./scripts/install-prometheus-tools.sh`,
which CI runs); without it these tests skip, saying so, and with CI=true they fail instead."""

from __future__ import annotations

import re
import subprocess
from typing import Any

import yaml

from components.kubernetes.platform.exporters import POSTGRES_EXPORTER_CHART, REDIS_EXPORTER_CHART, YACE_CHART
from tests.conftest import ROOT
from tests.prometheus_tools import prometheus_tool

RULES_DIR = ROOT / "monitoring" / "rules"
RULES = RULES_DIR / "philosophy.rules.yaml"
RULE_TESTS = RULES_DIR / "philosophy.rules.test.yaml"
SEED_ALERTS = {
    "HighAPILatency",
    "HighErrorRate",
    "ClaudeAPIFailure",
    "DatabaseConnectionPoolExhausted",
    "HighMemoryUsage",
    "HighQueueDepth",
}
# Not the seed's: the health of the exporters two of its alerts read.
PIPELINE_ALERTS = {"ExporterDown", "ExporterCannotReachItsStore", "TracesDropped"}
# Not the seed's: Enterprise's Neo4j backups (kube-state-metrics' CronJob and Job series).
BACKUP_ALERTS = {"Neo4jBackupStale", "Neo4jBackupFailed"}
ALERTS = SEED_ALERTS | PIPELINE_ALERTS | BACKUP_ALERTS


def promtool() -> str:
    return prometheus_tool("promtool")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], cwd=RULES_DIR, capture_output=True, text=True, timeout=120)


def alerts() -> dict[str, dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"]}


def test_the_rules_are_the_seeds_six_alerts_the_exporters_and_the_backups_with_a_severity_and_their_texts() -> None:
    found = alerts()
    assert set(found) == ALERTS
    for name, rule in found.items():
        assert rule["labels"]["severity"] in {"warning", "critical"}, name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name


def test_promtool_accepts_the_rules() -> None:
    result = run("check", "rules", RULES.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in result.stdout


def test_every_alert_fires_and_stays_silent_as_its_unit_tests_say() -> None:
    result = run("test", "rules", RULE_TESTS.name)
    assert result.returncode == 0, result.stdout + result.stderr


def subjects(series: str) -> set[str]:
    """The label values of a series selector, e.g. {'philosophy-api', 'a', '0.1'}."""
    labels = series.partition("{")[2].rstrip("}")
    return {pair.partition("=")[2].strip('"') for pair in labels.split(",") if "=" in pair}


def test_the_unit_tests_cover_every_alert_both_ways() -> None:
    """Each alert has a case where it fires (with labels and annotations) and a case where it must not: an
    explicit `exp_alerts: []`, or a series in a firing case that is left out of the expected alerts."""
    fires, silent = set(), set()
    for case in yaml.safe_load(RULE_TESTS.read_text())["tests"]:
        series = [s["series"] for s in case["input_series"]]
        for check in case["alert_rule_test"]:
            expected = check.get("exp_alerts") or []
            if not expected:
                silent.add(check["alertname"])
                continue
            fires.add(check["alertname"])
            for alert in expected:
                assert alert["exp_annotations"]["description"], check["alertname"]
            alerted = {v for alert in expected for v in alert["exp_labels"].values()}
            if any(not (subjects(s) & alerted) for s in series):
                silent.add(check["alertname"])
    assert fires == ALERTS
    assert silent == ALERTS


def test_exporter_down_watches_the_jobs_of_the_exporters_the_layer_deploys() -> None:
    """A ServiceMonitor's `job` is its Service's name, which each exporter chart names after its release (the
    chart's name here)."""
    pattern = re.compile(alerts()["ExporterDown"]["expr"].split('job=~"', 1)[1].split('"', 1)[0])
    for chart, _, _ in (REDIS_EXPORTER_CHART, POSTGRES_EXPORTER_CHART, YACE_CHART):
        assert pattern.fullmatch(chart), chart
