"""The service's release objects (Argo CD's): rendered from the typed config into deploy/<stack>/, committed as
rendered, the seed's canary with analysis that cannot promote on no data, Istio routing that Rollouts and Argo CD
agree on, and pods that pass Pod Security `restricted` with Istio's sidecar injected the way its CNI mode does."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from philosophy_infra.cli import main
from philosophy_infra.config.base import StackConfigError
from philosophy_infra.release.canary import analysis_templates
from philosophy_infra.release.objects import release_objects
from philosophy_infra.release.render import (
    compare,
    deploy_path,
    render_stack,
    stack_release_inputs,
    stack_release_objects,
)
from tests.conftest import KUBERNETES, ROOT, raw_config
from tests.prometheus_tools import prometheus_tool

STACKS = ["prod", "staging"]
# The seed's `argocd/rollout.yaml`, section 2.2: its canary steps, in order.
SEED_STEPS = [
    ("setWeight", 10),
    ("pause", "5m"),
    ("analysis", ["success-rate"]),
    ("setWeight", 30),
    ("pause", "5m"),
    ("setWeight", 60),
    ("pause", "5m"),
    ("setWeight", 100),
]


def of(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    [found] = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


@pytest.fixture(scope="module", params=STACKS)
def release(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return stack_release_objects(ROOT, request.param)


@pytest.mark.parametrize("stack", STACKS)
def test_the_committed_directory_is_what_render_makes(stack: str) -> None:
    difference = compare(ROOT / deploy_path(stack), render_stack(ROOT, stack))
    assert not difference, difference.lines()


def test_render_check_fails_on_an_edited_missing_or_extra_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "prod"
    assert main(["render", "--stack", "prod", "--out", str(out)]) == 0
    assert main(["render", "--stack", "prod", "--out", str(out), "--check"]) == 0
    rollout = out / "rollout.philosophy-api.yaml"
    rollout.write_text(rollout.read_text().replace("setWeight: 10", "setWeight: 50"))
    (out / "service.philosophy-websocket.yaml").unlink()
    (out / "configmap.hand-written.yaml").write_text("kind: ConfigMap\n")
    assert main(["render", "--stack", "prod", "--out", str(out), "--check"]) == 1
    err = capsys.readouterr().err
    assert "differs: rollout.philosophy-api.yaml" in err
    assert "missing: service.philosophy-websocket.yaml" in err
    assert "not rendered: configmap.hand-written.yaml" in err
    # Rendering again repairs all three: the extra file is removed, as Argo CD would otherwise apply it.
    assert main(["render", "--stack", "prod", "--out", str(out)]) == 0
    assert main(["render", "--stack", "prod", "--out", str(out), "--check"]) == 0
    assert not (out / "configmap.hand-written.yaml").exists()


def test_render_refuses_bad_config_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(ROOT / "kubernetes", tmp_path / "kubernetes", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("Pulumi.yaml", "Pulumi.prod.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    stack_file = tmp_path / "kubernetes" / "Pulumi.prod.yaml"
    stack_file.write_text(stack_file.read_text().replace('imageTag: "1.0.0"', "imageTag: latest"))
    assert main(["render", "--stack", "prod", "--project-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "philosophy-kubernetes:workloads.imageTag" in err and "latest" in err and "Traceback" not in err
    assert not (tmp_path / "deploy").exists()


def test_a_worker_node_group_the_aws_layer_lacks_is_a_config_error() -> None:
    from philosophy_infra.config.aws import AwsStackConfig
    from philosophy_infra.config.kubernetes import KubernetesStackConfig
    from philosophy_infra.release.render import release_inputs
    from tests.conftest import encode, stack_file

    raw = raw_config("prod", KUBERNETES)
    raw["philosophy-kubernetes:workloads"]["worker"]["nodeGroup"] = "gpu"
    config = KubernetesStackConfig.from_raw("prod", encode(raw))
    aws = AwsStackConfig.from_raw("prod", stack_file("prod").config)
    with pytest.raises(StackConfigError, match=r"workloads\.worker\.nodeGroup.*gpu.*no such node group"):
        release_inputs(config, aws, "prod")


def test_the_canary_has_the_seeds_steps_and_background_analysis_from_step_one(release: list[dict[str, Any]]) -> None:
    canary = of(release, "Rollout", "philosophy-api")["spec"]["strategy"]["canary"]
    steps = []
    for step in canary["steps"]:
        [(kind, value)] = step.items()
        steps.append((kind, value.get("duration") if kind == "pause" else value) if kind != "analysis" else None)
        if kind == "analysis":
            steps[-1] = ("analysis", [t["templateName"] for t in value["templates"]])
    assert steps == SEED_STEPS
    background = canary["analysis"]
    assert [t["templateName"] for t in background["templates"]] == ["success-rate", "latency"]
    assert background["startingStep"] == 1
    args = {a["name"]: a["value"] for a in background["args"]}
    # Until the rollout ends (0 measurements: no count), the step's analysis takes five.
    assert args["measurements"] == "0"
    [step_analysis] = [s["analysis"] for s in canary["steps"] if "analysis" in s]
    assert {a["name"]: a["value"] for a in step_analysis["args"]}["measurements"] == "5"


def test_the_analysis_looks_at_the_new_version_only(release: list[dict[str, Any]]) -> None:
    rollout = of(release, "Rollout", "philosophy-api")
    version = rollout["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/version"]
    assert version == rollout["spec"]["template"]["spec"]["containers"][0]["image"].split(":")[-1]
    args = {a["name"]: a["value"] for a in rollout["spec"]["strategy"]["canary"]["analysis"]["args"]}
    assert args["version"] == version
    assert args["service-name"] == "philosophy-api.philosophy-app.svc.cluster.local"
    for template in (of(release, "AnalysisTemplate", n) for n in ("success-rate", "latency")):
        [metric] = template["spec"]["metrics"]
        query = metric["provider"]["prometheus"]["query"]
        assert query.count('destination_canonical_revision="{{args.version}}"') == query.count("istio_request")
        assert metric["provider"]["prometheus"]["address"] == "http://kps-prometheus.monitoring.svc:9090"
        declared = {a["name"] for a in template["spec"]["args"]}
        assert set(re.findall(r"\{\{args\.([a-z-]+)\}\}", yaml.safe_dump(template["spec"]))) == declared
        assert declared <= set(args)


def expr(condition: str, result: list[float]) -> bool:
    """Argo Rollouts' condition language (expr), for the forms the templates use."""
    python = condition.replace("&&", " and ").replace("||", " or ").replace("!isNaN(", " not isNaN(")
    assert re.fullmatch(r"[\w\s\[\]().<>=!]+", python), condition
    return bool(eval(python, {"__builtins__": {}}, {"len": len, "isNaN": math.isnan, "result": result}))


@pytest.mark.parametrize("name,good,bad", [("success-rate", 0.99, 0.5), ("latency", 120.0, 2000.0)])
def test_no_data_is_inconclusive_never_a_success(name: str, good: float, bad: float) -> None:
    [template] = [t for t in analysis_templates() if t["metadata"]["name"] == name]
    [metric] = template["spec"]["metrics"]
    success, failure = metric["successCondition"], metric["failureCondition"]

    def outcome(result: list[float]) -> str:
        passed, failed = expr(success, result), expr(failure, result)
        assert not (passed and failed)
        return "successful" if passed else "failed" if failed else "inconclusive"

    assert outcome([good]) == "successful"
    assert outcome([bad]) == "failed"
    # No series yet, and no requests in the window (0/0): neither.
    assert outcome([]) == "inconclusive"
    assert outcome([math.nan]) == "inconclusive"
    # A failed run aborts the rollout; a few empty measurements are tolerated, then a person decides.
    assert metric["failureLimit"] > 0 and 0 < metric["inconclusiveLimit"] <= 3


def test_the_analysis_queries_are_valid_promql(tmp_path: Path) -> None:
    tool = prometheus_tool("promtool")
    rules = []
    for i, template in enumerate(analysis_templates()):
        query = template["spec"]["metrics"][0]["provider"]["prometheus"]["query"]
        concrete = query.replace("{{args.service-name}}", "philosophy-api").replace("{{args.version}}", "1.0.0")
        rules.append({"record": f"analysis:query_{i}", "expr": concrete})
    path = tmp_path / "analysis.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "analysis", "rules": rules}]}))
    result = subprocess.run([tool, "check", "rules", str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_rollouts_and_istio_agree_on_names_routes_and_subsets(release: list[dict[str, Any]]) -> None:
    routing = of(release, "Rollout", "philosophy-api")["spec"]["strategy"]["canary"]["trafficRouting"]["istio"]
    service = of(release, "VirtualService", routing["virtualService"]["name"])
    rule = of(release, "DestinationRule", routing["destinationRule"]["name"])
    routes = {r["name"]: r for r in service["spec"]["http"]}
    [route_name] = routing["virtualService"]["routes"]
    destinations = routes[route_name]["route"]
    subsets = {d["destination"]["subset"]: d["weight"] for d in destinations}
    names = routing["destinationRule"]
    assert subsets == {names["stableSubsetName"]: 100, names["canarySubsetName"]: 0}
    assert {s["name"] for s in rule["spec"]["subsets"]} == set(subsets)
    assert {d["destination"]["host"] for d in destinations} == {rule["spec"]["host"]}
    assert service["spec"]["gateways"] == ["istio-ingress/philosophy"]


def test_the_websockets_stickiness_is_the_meshs(release: list[dict[str, Any]]) -> None:
    rule = of(release, "DestinationRule", "philosophy-websocket")
    assert rule["spec"]["trafficPolicy"]["loadBalancer"]["consistentHash"]["httpCookie"]["name"]
    service = of(release, "Service", "philosophy-websocket")
    # kube-proxy's ClientIP affinity sees the gateway's address, not the client's: it does nothing in a mesh.
    assert "sessionAffinity" not in service["spec"]
    route = next(r for r in of(release, "VirtualService", "philosophy-api")["spec"]["http"] if r["name"] == "websocket")
    assert route["route"][0]["destination"]["host"] == rule["spec"]["host"]
    env = {
        e["name"]: e["value"]
        for e in of(release, "Deployment", "philosophy-websocket")["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["STICKY_SESSIONS"] == "true"


def test_the_hpa_scales_the_rollout_on_the_app_containers_use_only(release: list[dict[str, Any]]) -> None:
    hpa = of(release, "HorizontalPodAutoscaler", "philosophy-api-hpa")["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "philosophy-api"}
    containers = {c["name"] for c in of(release, "Rollout", "philosophy-api")["spec"]["template"]["spec"]["containers"]}
    resources = [m for m in hpa["metrics"] if m["type"] in ("Resource", "ContainerResource")]
    assert resources and all(m["type"] == "ContainerResource" for m in resources)
    assert {m["containerResource"]["container"] for m in resources} <= containers
    # Argo CD must not reset what the HPA scaled to.
    assert "replicas" not in of(release, "Rollout", "philosophy-api")["spec"]
    vpa = of(release, "VerticalPodAutoscaler", "philosophy-api-vpa")["spec"]
    assert vpa["targetRef"]["kind"] == "Rollout" and vpa["updatePolicy"]["updateMode"] == "Off"


def test_a_stack_value_reaches_the_rendered_objects() -> None:
    from philosophy_infra.config.kubernetes import KubernetesStackConfig
    from philosophy_infra.release.objects import ReleaseInputs
    from tests.conftest import encode

    inputs = stack_release_inputs(ROOT, "staging")
    raw = raw_config("staging", KUBERNETES)
    raw["philosophy-kubernetes:workloads"]["imageTag"] = "2.3.4"
    raw["philosophy-kubernetes:workloads"]["api"]["maxReplicas"] = 7
    config = KubernetesStackConfig.from_raw("staging", encode(raw))
    changed = release_objects(ReleaseInputs(**{**inputs.__dict__, "workloads": config.workloads}))
    rollout = of(changed, "Rollout", "philosophy-api")
    assert rollout["spec"]["template"]["spec"]["containers"][0]["image"].endswith("/api:2.3.4")
    assert of(changed, "HorizontalPodAutoscaler", "philosophy-api-hpa")["spec"]["maxReplicas"] == 7


SERIES = (
    '{name}{{reporter="destination",destination_service="philosophy-api.philosophy-app.svc.cluster.local",'
    'destination_canonical_revision="{version}"{extra}}}'
)


def requests(version: str, code: str, per_minute: int) -> dict[str, str]:
    extra = f',response_code="{code}"'
    return {"series": SERIES.format(name="istio_requests_total", version=version, extra=extra),
            "values": f"0+{per_minute}x10"}  # fmt: skip


def durations(version: str, per_minute: int, slow: bool) -> list[dict[str, str]]:
    """A histogram whose requests all take under 100 ms (fast) or over a second (slow)."""
    found = []
    for le in ("100", "500", "1000", "+Inf"):
        counted = per_minute if (not slow or le == "+Inf") else 0
        extra = f',le="{le}"'
        name = "istio_request_duration_milliseconds_bucket"
        found.append({"series": SERIES.format(name=name, version=version, extra=extra), "values": f"0+{counted}x10"})
    return found


# (what the new version 2.0.0 does, the input series, which of success-rate's and latency's conditions hold)
SCENARIOS = {
    "healthy": ([requests("2.0.0", "200", 600), requests("2.0.0", "503", 6), *durations("2.0.0", 606, False)],
                {"SuccessRateHolds", "LatencyHolds"}),
    "every request fails": ([requests("2.0.0", "503", 600), *durations("2.0.0", 600, False)],
                            {"SuccessRateFails", "LatencyHolds"}),
    "slow": ([requests("2.0.0", "200", 600), *durations("2.0.0", 600, True)], {"SuccessRateHolds", "LatencyFails"}),
    # No series of the new version yet (the old one is busy): neither condition, so inconclusive.
    "no data yet": ([requests("1.0.0", "200", 600), *durations("1.0.0", 600, False)], set()),
    # Series, but no requests in the window: 0/0 is NaN, which no comparison selects.
    "no requests": ([requests("2.0.0", "200", 0), *durations("2.0.0", 0, False)], set()),
}  # fmt: skip


def test_the_analysis_queries_fail_a_broken_canary_and_are_inconclusive_without_traffic(tmp_path: Path) -> None:
    """The templates' real queries, run by promtool over series for each scenario: each condition as an alert
    (`<query> >= 0.95` and so on), the way Argo Rollouts applies it to the query's one value."""
    tool = prometheus_tool("promtool")
    conditions = {}
    for template in analysis_templates():
        [metric] = template["spec"]["metrics"]
        query = metric["provider"]["prometheus"]["query"]
        query = query.replace("{{args.service-name}}", "philosophy-api.philosophy-app.svc.cluster.local")
        query = query.replace("{{args.version}}", "2.0.0")
        name = {"success-rate": "SuccessRate", "latency": "Latency"}[template["metadata"]["name"]]
        # `result[0] >= 0.95` -> `(<query>) >= 0.95`: the conditions' comparisons, after the has-data guard.
        holds = metric["successCondition"].rsplit("&& ", 1)[1].replace("result[0]", f"({query})")
        fails = metric["failureCondition"].rsplit("&& ", 1)[1].replace("result[0]", f"({query})")
        conditions[f"{name}Holds"], conditions[f"{name}Fails"] = holds, fails
    rules = {"groups": [{"name": "analysis", "rules": [{"alert": a, "expr": e} for a, e in conditions.items()]}]}
    (tmp_path / "analysis.rules.yaml").write_text(yaml.safe_dump(rules))
    tests = []
    for series, holding in SCENARIOS.values():
        checks = [
            {"eval_time": "6m", "alertname": alert, "exp_alerts": [{"exp_labels": {}}] if alert in holding else []}
            for alert in conditions
        ]
        tests.append({"interval": "1m", "input_series": series, "alert_rule_test": checks})
    suite = {"rule_files": ["analysis.rules.yaml"], "evaluation_interval": "1m", "tests": tests}
    (tmp_path / "analysis.test.yaml").write_text(yaml.safe_dump(suite))
    result = subprocess.run(
        [tool, "test", "rules", "analysis.test.yaml"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
