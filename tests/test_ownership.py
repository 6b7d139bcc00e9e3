"""One owner per object: Pulumi owns what the service stands on and Argo CD's own objects; Argo CD owns the
service's release objects, and its AppProject cannot touch anything else. The Application syncs the stack's
rendered directory the way the seed asks, corrected (no HEAD, no CreateNamespace, what Rollouts rewrites ignored),
and `pulumi destroy` removes it while Argo CD can still clear its finalizer."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from philosophy_infra import policy_check
from philosophy_infra.manifests import OWNER_ANNOTATION, kubernetes_objects, write_manifests
from philosophy_infra.plan import RecordedResource
from philosophy_infra.release.render import stack_release_objects
from philosophy_infra.release.revision import release_commit
from philosophy_infra.stack_plan import StackPlan
from tests.conftest import KUBERNETES, ROOT, stack_plan, stack_yaml
from tests.istio_injection import PROXY, VALIDATION, inject

STACKS = ["prod", "staging"]
guardrails = policy_check.load_guardrails(ROOT)
POD_TEMPLATE_KINDS = {"Deployment", "Rollout", "StatefulSet", "DaemonSet", "Job"}


def identity(o: dict[str, Any]) -> tuple[str, str, str, str]:
    group = o["apiVersion"].rpartition("/")[0]
    return (group, o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"])


def argo(plan: StackPlan, kind: str) -> RecordedResource:
    [found] = [r for r in plan.resources if r.type == f"kubernetes:argoproj.io/v1alpha1:{kind}"]
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_no_object_is_owned_by_both_pulumi_and_argo_cd(request: pytest.FixtureRequest, stack: str) -> None:
    pulumi_objects = {identity(o) for o in kubernetes_objects(stack_plan(request, stack))}
    release = stack_release_objects(ROOT, stack)
    argo_objects = [identity(o) for o in release]
    assert len(set(argo_objects)) == len(argo_objects)
    assert not pulumi_objects & set(argo_objects)
    # Argo CD's objects are all in the service's namespace, which Pulumi owns.
    assert {ns for _, _, ns, _ in argo_objects} == {"philosophy-app"}
    assert ("", "Namespace", "", "philosophy-app") in pulumi_objects


@pytest.mark.parametrize("stack", STACKS)
def test_the_project_admits_exactly_the_release_kinds_into_the_services_namespace(
    request: pytest.FixtureRequest, stack: str
) -> None:
    plan = stack_plan(request, stack)
    project = argo(plan, "AppProject").inputs["spec"]
    allowed = {(k["group"], k["kind"]) for k in project["namespaceResourceWhitelist"]}
    release_kinds = {(g, k) for g, k, _, _ in (identity(o) for o in stack_release_objects(ROOT, stack))}
    assert allowed == release_kinds
    assert project["clusterResourceWhitelist"] == []
    assert project["destinations"] == [{"server": "https://kubernetes.default.svc", "namespace": "philosophy-app"}]
    repo = stack_yaml(stack, KUBERNETES)["config"]["philosophy-kubernetes:delivery"]["repoUrl"]
    assert project["sourceRepos"] == [repo]
    # Nothing Pulumi keeps in that namespace is a kind Argo CD may create there.
    pulumi_kinds = {(g, k) for g, k, ns, _ in map(identity, kubernetes_objects(plan)) if ns == "philosophy-app"}
    assert {"ServiceAccount", "ConfigMap", "ExternalSecret", "NetworkPolicy", "PeerAuthentication"} <= {
        k for _, k in pulumi_kinds
    }
    assert not pulumi_kinds & allowed


@pytest.mark.parametrize("stack", STACKS)
def test_the_application_syncs_the_rendered_directory_as_the_seed_says(
    request: pytest.FixtureRequest, stack: str
) -> None:
    application = argo(stack_plan(request, stack), "Application").inputs
    spec = application["spec"]
    delivery = stack_yaml(stack, KUBERNETES)["config"]["philosophy-kubernetes:delivery"]
    assert delivery["pin"] == "lastRelease"
    # Pinned to the commit that last changed the stack's release objects (the branch only outside git).
    pinned = release_commit(ROOT, stack).commit or delivery["branch"]
    assert spec["source"] == {"repoURL": delivery["repoUrl"], "targetRevision": pinned, "path": f"deploy/{stack}"}
    assert spec["source"]["targetRevision"] != "HEAD"
    assert (ROOT / spec["source"]["path"]).is_dir()
    assert spec["project"] == argo(stack_plan(request, stack), "AppProject").inputs["metadata"]["name"] != "default"
    policy = spec["syncPolicy"]
    assert policy["automated"] == {"prune": True, "selfHeal": True, "allowEmpty": False}
    # The seed's retry and prune options; its CreateNamespace is gone (the namespace is Pulumi's, labelled).
    assert policy["retry"] == {"limit": 5, "backoff": {"duration": "5s", "factor": 2, "maxDuration": "3m"}}
    assert {"PrunePropagationPolicy=foreground", "PruneLast=true", "RespectIgnoreDifferences=true"} <= set(
        policy["syncOptions"]
    )
    assert not any(o.startswith("CreateNamespace") for o in policy["syncOptions"])
    assert spec["destination"] == {"server": "https://kubernetes.default.svc", "namespace": "philosophy-app"}
    assert application["metadata"]["finalizers"] == ["resources-finalizer.argocd.argoproj.io"]


def jq(expression: str, obj: dict[str, Any]) -> list[Any]:
    """What a `jqPathExpressions` entry selects in `obj`, by jq itself (Argo CD evaluates them with gojq)."""
    tool = shutil.which("jq")
    if tool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("jq is not installed: CI installs it (.ci/run)")
        pytest.skip("jq is not installed here (Debian: apt-get install jq)")
    result = subprocess.run(
        [tool, "-c", f"[{expression}]"], input=json.dumps(obj), capture_output=True, text=True, timeout=30, check=True
    )
    found: list[Any] = json.loads(result.stdout)
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_argo_cd_ignores_exactly_what_rollouts_rewrites(request: pytest.FixtureRequest, stack: str) -> None:
    spec = argo(stack_plan(request, stack), "Application").inputs["spec"]
    release = stack_release_objects(ROOT, stack)
    rollout = next(o for o in release if o["kind"] == "Rollout")
    istio = rollout["spec"]["strategy"]["canary"]["trafficRouting"]["istio"]
    ignored = {(d["kind"], d["name"]): d["jqPathExpressions"] for d in spec["ignoreDifferences"]}
    assert set(ignored) == {
        ("VirtualService", istio["virtualService"]["name"]),
        ("DestinationRule", istio["destinationRule"]["name"]),
    }
    service = next(o for o in release if o["kind"] == "VirtualService")
    [weights] = ignored["VirtualService", service["metadata"]["name"]]
    # The managed route's weights, and no other route's.
    assert jq(weights, service) == [100, 0]
    rule = next(
        o
        for o in release
        if o["kind"] == "DestinationRule" and o["metadata"]["name"] == istio["destinationRule"]["name"]
    )
    [labels] = ignored["DestinationRule", rule["metadata"]["name"]]
    assert len(jq(labels, rule)) == 2


@pytest.mark.parametrize("stack", STACKS)
def test_destroy_removes_the_application_before_what_clears_its_finalizer(
    request: pytest.FixtureRequest, stack: str
) -> None:
    """Pulumi deletes in reverse dependency order: whatever the Application depends on outlives it."""
    plan = stack_plan(request, stack)
    application = argo(plan, "Application")
    helm = {r.inputs["chart"]: r.urn for r in plan.of_type("kubernetes:helm.sh/v3:Release")}
    for chart in ("argo-cd", "argo-rollouts", "istiod", "base", "kube-prometheus-stack"):
        assert helm[chart] in application.dependencies, chart
    namespace = next(
        r for r in plan.of_type("kubernetes:core/v1:Namespace") if r.inputs["metadata"]["name"] == "philosophy-app"
    )
    schema_job = next(r for r in plan.of_type("kubernetes:batch/v1:Job") if "schema" in r.inputs["metadata"]["name"])
    assert namespace.urn in application.dependencies
    # The first sync runs after this release's migrations.
    assert schema_job.urn in application.dependencies


@pytest.mark.parametrize("stack", STACKS)
def test_every_service_pod_passes_restricted_with_the_sidecar_injected(stack: str) -> None:
    pods = [
        (o["metadata"]["name"], o["spec"]["template"]["spec"])
        for o in stack_release_objects(ROOT, stack)
        if o["kind"] in POD_TEMPLATE_KINDS
    ]
    assert {name for name, _ in pods} == {"philosophy-api", "philosophy-websocket", "claude-worker"}
    for name, pod in pods:
        injected = inject(pod)
        added = [c["name"] for c in injected["initContainers"]]
        assert added[:2] == [VALIDATION, PROXY], name
        assert list(guardrails._pod_problems(copy.deepcopy(injected))) == [], name


def test_the_check_would_catch_the_sidecar_without_the_cni() -> None:
    pod = next(o for o in stack_release_objects(ROOT, "prod") if o["kind"] == "Rollout")["spec"]["template"]["spec"]
    problems = list(guardrails._pod_problems(inject(pod, cni=False)))
    assert any("NET_ADMIN" in p for p in problems), problems


def test_the_manifests_hold_both_owners_each_marked(prod_plan: StackPlan, tmp_path: Path) -> None:
    release = stack_release_objects(ROOT, "prod")
    written = write_manifests(prod_plan, tmp_path, release)
    owners: dict[str, set[tuple[str, str]]] = {}
    for path in written:
        obj = yaml.safe_load(path.read_text())
        owners.setdefault(obj["metadata"]["annotations"][OWNER_ANNOTATION], set()).add(
            (obj["kind"], obj["metadata"]["name"])
        )
    assert set(owners) == {"pulumi", "argocd"}
    assert ("Rollout", "philosophy-api") in owners["argocd"] and ("Application", "philosophy-app") in owners["pulumi"]
    assert len(owners["argocd"]) == len(release)
    # Two objects with one name would be two owners of one object: refused.
    with pytest.raises(ValueError, match="one owner each"):
        write_manifests(prod_plan, tmp_path / "twice", [*release, copy.deepcopy(release[0])])
