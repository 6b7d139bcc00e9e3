"""The two layers: the AWS layer never touches the cluster's API, every Kubernetes object there was before the
split still exists (the Kubernetes layer's, or Argo CD's release objects rendered from its config), the Kubernetes
layer reads the AWS layer through one StackReference, and both plan from one command."""

from __future__ import annotations

import ast
import json
from typing import Any

import pytest

from philosophy_infra.config.base import StackConfigError
from philosophy_infra.config.placeholders import RunMode
from philosophy_infra.stack_plan import StackPlan
from tests.conftest import AWS, KUBERNETES, ROOT, encode, raw_config, release_for, release_object, run_stack, stack_plan

STACKS = ["prod", "staging"]

# Every Kubernetes object the single project planned before the layers were split (kind, namespace, name):
# the split moves them, it must not lose one.
OBJECTS_BEFORE_THE_SPLIT = {
    ("ConfigMap", "philosophy-app", "app-config"),
    ("Deployment", "philosophy-app", "claude-worker"),
    ("Deployment", "philosophy-app", "philosophy-api"),
    ("Deployment", "philosophy-app", "philosophy-websocket"),
    ("ExternalSecret", "philosophy-app", "app-secrets"),
    ("ExternalSecret", "philosophy-app", "cache-credentials"),
    ("ExternalSecret", "philosophy-app", "database-credentials"),
    ("ExternalSecret", "philosophy-app", "llm-credentials"),
    ("HorizontalPodAutoscaler", "philosophy-app", "philosophy-api-hpa"),
    ("Job", "philosophy-app", "pgvector-7d12d24b"),
    ("Namespace", "", "philosophy-app"),
    ("NetworkPolicy", "philosophy-app", "allow-dns"),
    ("NetworkPolicy", "philosophy-app", "allow-mesh"),
    ("NetworkPolicy", "philosophy-app", "claude-worker"),
    ("NetworkPolicy", "philosophy-app", "default-deny"),
    ("NetworkPolicy", "philosophy-app", "pgvector"),
    ("NetworkPolicy", "philosophy-app", "philosophy-api"),
    ("NetworkPolicy", "philosophy-app", "philosophy-websocket"),
    ("PodDisruptionBudget", "philosophy-app", "claude-worker"),
    ("PodDisruptionBudget", "philosophy-app", "philosophy-api"),
    ("PodDisruptionBudget", "philosophy-app", "philosophy-websocket"),
    ("SecretStore", "philosophy-app", "aws-secrets-manager"),
    ("Service", "philosophy-app", "philosophy-api"),
    ("Service", "philosophy-app", "philosophy-websocket"),
    ("ServiceAccount", "philosophy-app", "claude-worker"),
    ("ServiceAccount", "philosophy-app", "philosophy-api"),
    ("ServiceAccount", "philosophy-app", "philosophy-websocket"),
    ("ServiceAccount", "philosophy-app", "secrets-reader"),
    ("StorageClass", "", "gp3"),
    ("StorageClass", "", "gp3-scratch"),
    ("VerticalPodAutoscaler", "philosophy-app", "philosophy-api-vpa"),
    ("helm.sh/v3:Release", "external-secrets", "external-secrets"),
    ("helm.sh/v3:Release", "vpa", "vpa"),
}
# Since the GitOps split, Argo CD owns the service's release objects (rendered from the Kubernetes layer's config);
# the api's Deployment became a canary Rollout, and the ConfigMap keeps only where things are (the settings are
# in the pod templates).
RELEASE_KINDS = {"Deployment", "Service", "HorizontalPodAutoscaler", "VerticalPodAutoscaler", "PodDisruptionBudget"}
RENAMED = {
    ("Deployment", "philosophy-app", "philosophy-api"): ("Rollout", "philosophy-app", "philosophy-api"),
    ("ConfigMap", "philosophy-app", "app-config"): ("ConfigMap", "philosophy-app", "app-endpoints"),
}


def kubernetes_objects(plan: StackPlan) -> set[tuple[str, str, str]]:
    found = set()
    for r in plan.resources:
        if not r.type.startswith("kubernetes:") or r.type.startswith("pulumi:providers:"):
            continue
        if r.type.startswith("kubernetes:helm.sh/"):
            found.add(("helm.sh/v3:Release", r.inputs["namespace"], r.inputs["name"]))
        else:
            meta = r.inputs["metadata"]
            found.add((r.inputs["kind"], meta.get("namespace", ""), meta["name"]))
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_the_aws_layer_creates_no_kubernetes_object_and_no_kubernetes_provider(
    stack: str, request: pytest.FixtureRequest
) -> None:
    aws = stack_plan(request, stack).layer(AWS)
    assert aws.project == "philosophy-infra"
    assert not [r.type for r in aws.resources if r.type.startswith("kubernetes:")]
    assert not [r for r in aws.resources if r.type == "pulumi:providers:kubernetes"]
    assert aws.of_type("eks:index:Cluster") and aws.of_type("aws:rds/instance:Instance")


def test_no_aws_layer_module_imports_the_kubernetes_sdk() -> None:
    sources = [ROOT / "__main__.py", *sorted((ROOT / "components" / "aws").rglob("*.py"))]
    for source in sources:
        tree = ast.parse(source.read_text())
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        offending = {m for m in imported if m.startswith(("pulumi_kubernetes", "components.kubernetes"))}
        assert not offending, f"{source.relative_to(ROOT)} imports {offending}"


@pytest.mark.parametrize("stack", STACKS)
def test_the_kubernetes_layer_has_every_object_it_had_before_the_split(
    stack: str, request: pytest.FixtureRequest
) -> None:
    kubernetes = stack_plan(request, stack).layer(KUBERNETES)
    assert kubernetes.project == "philosophy-kubernetes"
    found = kubernetes_objects(stack_plan(request, stack))
    release = {(o["kind"], o["metadata"]["namespace"], o["metadata"]["name"]) for o in release_for(stack)}
    # The schema Job (its own namespace) replaced the master credentials and the pgvector Job of the app namespace.
    replaced = {o for o in OBJECTS_BEFORE_THE_SPLIT if o[2] == "database-credentials" or o[2].startswith("pgvector")}
    assert len(replaced) == 3 and not replaced & (found | release)
    assert not set(RENAMED) & (found | release)
    kept = {RENAMED.get(o, o) for o in OBJECTS_BEFORE_THE_SPLIT - replaced}
    # Each one is still there, with exactly one owner: the release objects are Argo CD's, the rest Pulumi's.
    argo_cd = {o for o in kept if o[0] in RELEASE_KINDS or o[0] == "Rollout"}
    assert len(argo_cd) == 10 and argo_cd <= release and not argo_cd & found
    assert kept - argo_cd <= found and not (kept - argo_cd) & release
    # Every object goes through the one provider, built from the AWS layer's kubeconfig.
    [provider] = kubernetes.of_type("pulumi:providers:kubernetes")
    assert provider.inputs["kubeconfig"] == "[secret]"
    objects = [r for r in kubernetes.resources if r.custom and r.type.startswith("kubernetes:")]
    assert objects and all(r.provider == provider.urn for r in objects)
    assert not [r for r in kubernetes.resources if r.type.startswith(("aws:", "eks:"))]


@pytest.mark.parametrize("stack", STACKS)
def test_the_kubernetes_layer_reads_the_aws_layer_of_the_same_stack(stack: str, request: pytest.FixtureRequest) -> None:
    plan = stack_plan(request, stack)
    kubernetes = plan.layer(KUBERNETES)
    [reference] = kubernetes.of_type("pulumi:pulumi:StackReference")
    assert reference.read and reference.inputs["name"] == f"organization/philosophy-infra/{stack}"
    assert kubernetes.outputs["awsStack"] == f"organization/philosophy-infra/{stack}"
    provider = kubernetes.one("pulumi:providers:kubernetes")
    assert reference.urn in provider.dependencies


def test_the_stack_reference_follows_the_configured_organization_and_project() -> None:
    raw = raw_config("staging", KUBERNETES)
    raw["philosophy-kubernetes:awsLayer"] = {"organization": "acme", "project": "philosophy-infra"}
    plan = run_stack("staging", kubernetes_config=encode(raw))
    [reference] = plan.layer(KUBERNETES).of_type("pulumi:pulumi:StackReference")
    assert reference.inputs["name"] == "acme/philosophy-infra/staging"


def test_the_offline_plan_answers_only_the_aws_layer_of_the_same_stack() -> None:
    from pulumi.runtime.mocks import MockResourceArgs

    from philosophy_infra.plan import STACK_REFERENCE, PlanMocks, StackReferenceAnswers

    answers = StackReferenceAnswers(
        "philosophy-infra", "prod", {"vpcId": "vpc-1", "kubeconfig": "[secret]"}, ["kubeconfig"]
    )
    mocks = PlanMocks("eu-west-1", answers)
    read = MockResourceArgs(
        STACK_REFERENCE,
        "organization/philosophy-infra/prod",
        {"name": "organization/philosophy-infra/prod"},
        "",
        "organization/philosophy-infra/prod",
    )
    assert mocks.new_resource(read) == (
        "organization/philosophy-infra/prod",
        {"name": "organization/philosophy-infra/prod", "outputs": answers.outputs, "secretOutputNames": ["kubeconfig"]},
    )
    for other in ("organization/someone-else/prod", "organization/philosophy-infra/staging", "philosophy-infra/prod"):
        args = MockResourceArgs(STACK_REFERENCE, other, {"name": other}, "", other)
        with pytest.raises(LookupError, match=f"cannot read stack '{other}'"):
            mocks.new_resource(args)


def test_values_from_the_aws_layer_arrive_unchanged(prod_plan: StackPlan) -> None:
    aws, kubernetes = prod_plan.layer(AWS), prod_plan.layer(KUBERNETES)
    config = next(
        r.inputs
        for r in kubernetes.of_type("kubernetes:core/v1:ConfigMap")
        if r.inputs["metadata"]["name"] == "app-endpoints"
    )["data"]
    assert config["DB_HOST"] == aws.outputs["databaseEndpoint"] and config["DB_PORT"] == "5432"
    assert config["REDIS_HOST"] == aws.outputs["cacheConfigurationEndpoint"] and config["REDIS_PORT"] == "6379"
    assert config["ASSETS_BUCKET"] == aws.outputs["assetsBucketName"] and config["AWS_REGION"] == "eu-west-1"
    assert config["DB_NAME"] == aws.outputs["databaseName"]
    assert config["SEARCH_URL"] == f"https://{aws.outputs['searchEndpoint']}"
    assert config["CLAUDE_API_KEY_SECRET_ARN"] == aws.outputs["llmApiKeySecretArn"]
    accounts = {
        r.inputs["metadata"]["name"]: r.inputs["metadata"].get("annotations") or {}
        for r in kubernetes.of_type("kubernetes:core/v1:ServiceAccount")
    }
    # Accounts a chart creates, from the release's values (named, or after the release's full name).
    for release in kubernetes.of_type("kubernetes:helm.sh/v3:Release"):
        values = release.inputs.get("values", {})
        for account in (values.get("serviceAccount", {}), values.get("jaeger", {}).get("serviceAccount", {})):
            if name := account.get("name") or (account and values.get("fullnameOverride")):
                accounts[name] = account.get("annotations") or {}
    for account, arn in aws.outputs["serviceAccountRoleArns"].items():
        assert accounts[account]["eks.amazonaws.com/role-arn"] == arn
    policies = {
        r.inputs["metadata"]["name"]: r.inputs["spec"]
        for r in kubernetes.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    }
    database_targets = [t["ipBlock"]["cidr"] for t in policies["claude-worker"]["egress"][0]["to"]]
    assert database_targets == aws.outputs["databaseSubnetCidrs"]
    for namespace in kubernetes.of_type("kubernetes:core/v1:Namespace"):
        assert namespace.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce-version"] == "v1.35"


def test_the_worker_runs_on_the_node_group_the_aws_layer_describes(prod_plan: StackPlan) -> None:
    groups = prod_plan.layer(AWS).outputs["nodeGroups"]
    assert groups["compute"] == {
        "nodeSelector": {"Type": "compute", "Workload": "ai-processing"},
        "tolerations": [{"key": "ai-workload", "operator": "Equal", "value": "true", "effect": "NoSchedule"}],
    }
    # The worker Deployment Argo CD syncs, rendered from the stack files.
    spec = release_object(release_for("prod"), "Deployment", "claude-worker")["spec"]["template"]["spec"]
    assert spec["nodeSelector"] == groups["compute"]["nodeSelector"]
    assert spec["tolerations"] == groups["compute"]["tolerations"]
    # The Kubernetes layer renders it again from the AWS layer's outputs, and finds the committed copy the same.
    assert not [w for w in prod_plan.warnings if "Argo CD syncs the committed files" in w]


def test_a_deploy_warns_when_the_aws_layers_outputs_disagree_with_the_committed_release_objects() -> None:
    """Argo CD syncs deploy/<stack>/ whatever the AWS layer's outputs say: a deploy that sees other node groups
    says so, naming what differs."""
    raw = raw_config("staging")
    raw["philosophy-infra:nodeGroups"]["compute"]["labels"]["Workload"] = "batch"
    plan = run_stack("staging", raw)
    [warning] = [w for w in plan.warnings if "Argo CD syncs the committed files" in w]
    assert "deploy/staging/" in warning and "differs: deployment.claude-worker.yaml" in warning
    assert "philosophy-infra render --stack staging" in warning


def test_a_worker_node_group_the_aws_layer_lacks_is_a_config_error_naming_the_key() -> None:
    raw = raw_config("staging", KUBERNETES)
    raw["philosophy-kubernetes:workloads"]["worker"]["nodeGroup"] = "gpu"
    with pytest.raises(StackConfigError) as info:
        run_stack("staging", kubernetes_config=encode(raw))
    message = str(info.value)
    assert (
        'philosophy-kubernetes:workloads.worker.nodeGroup = "gpu"' in message and "it has: compute, general" in message
    )
    # Only the read of the AWS layer's outputs came first: nothing is created.
    registered = info.value.registered_resources  # type: ignore[attr-defined]
    assert sorted(r.type for r in registered) == ["pulumi:pulumi:Stack", "pulumi:pulumi:StackReference"]


# --- placeholders -----------------------------------------------------------------------------------------

AWS_PLACEHOLDER_KEYS = {
    "philosophy-infra:cluster.adminRoleArn",
    "philosophy-infra:deployRunner.githubRepository",
    "philosophy-infra:deployRunner.githubConnectionArn",
    "philosophy-infra:deployRunner.stateBucket",
    "philosophy-infra:deployRunner.stateKmsKeyArn",
}


@pytest.mark.parametrize("stack", STACKS)
def test_placeholders_only_warn_in_the_offline_plan(stack: str, request: pytest.FixtureRequest) -> None:
    plan = stack_plan(request, stack)
    warned = "\n".join(plan.warnings)
    for key in [*AWS_PLACEHOLDER_KEYS, "philosophy-kubernetes:workloads.imageRegistry"]:
        assert f"placeholder: {key} = " in warned, key
    assert "a real `pulumi up` refuses it" in warned


@pytest.mark.parametrize(("layer", "expected"), [(AWS, AWS_PLACEHOLDER_KEYS), (KUBERNETES, None)])
def test_placeholders_are_refused_in_a_real_update_before_anything_is_registered(
    layer: Any, expected: set[str] | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import philosophy_infra.config.placeholders as placeholders

    monkeypatch.setattr(placeholders, "run_mode", lambda: RunMode.UPDATE)
    for module in ("philosophy_infra.config.aws", "philosophy_infra.config.kubernetes"):
        monkeypatch.setattr(f"{module}.run_mode", lambda: RunMode.UPDATE)
    if layer is KUBERNETES:
        # The AWS layer of this simulation holds real values, so the run reaches the Kubernetes layer.
        raw = raw_config("staging")
        raw["philosophy-infra:cluster"]["adminRoleArn"] = "arn:aws:iam::210987654321:role/platform-admin"
        raw["philosophy-infra:deployRunner"] = {
            "githubRepository": "acme/philosophy-infra",
            "githubConnectionArn": "arn:aws:codeconnections:eu-west-1:210987654321:connection/"
            "0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d",
            "stateBucket": "acme-pulumi-state",
        }
        config = encode(raw)
        expected = {"philosophy-kubernetes:workloads.imageRegistry"}
    else:
        config = None
    with pytest.raises(StackConfigError) as info:
        run_stack("staging", config)
    assert {issue.full_key for issue in info.value.issues} == expected
    assert "placeholder values that must not reach AWS" in str(info.value)
    registered = info.value.registered_resources  # type: ignore[attr-defined]
    assert [r.type for r in registered] == ["pulumi:pulumi:Stack"]


def test_a_preview_warns_about_placeholders_and_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("philosophy_infra.config.aws.run_mode", lambda: RunMode.PREVIEW)
    plan = run_stack("staging", layers=(AWS,))
    assert any("philosophy-infra:cluster.adminRoleArn" in w for w in plan.warnings)


def test_the_run_mode_is_offline_under_the_mocks() -> None:
    from philosophy_infra.config.placeholders import run_mode
    from tests.conftest import run

    seen: list[RunMode] = []
    run(lambda: seen.append(run_mode()))
    assert seen == [RunMode.OFFLINE]


# --- the JSON document ------------------------------------------------------------------------------------


def test_one_json_document_holds_both_layers(prod_plan: StackPlan) -> None:
    document = json.loads(json.dumps(prod_plan.to_json()))
    assert document["schemaVersion"] == 1 and document["project"] == "philosophy-infra"
    assert document["outputs"] == prod_plan.layer(AWS).outputs
    assert [(layer["name"], layer["project"], layer["stack"]) for layer in document["layers"]] == [
        ("aws", "philosophy-infra", "prod"),
        ("kubernetes", "philosophy-kubernetes", "prod"),
    ]
    projects = {r["urn"].split("::")[1] for r in document["resources"]}
    assert projects == {"philosophy-infra", "philosophy-kubernetes"}
    assert document["layers"][1]["outputs"]["appNamespace"] == "philosophy-app"
    assert document["outputs"]["kubeconfig"] == "[secret]"


def test_one_layer_can_be_planned_alone() -> None:
    aws = run_stack("staging", layers=(AWS,))
    assert [layer.name for layer, _ in aws.layers] == [AWS]
    assert not any(r.type.startswith("kubernetes:") for r in aws.resources)
    kubernetes = run_stack("staging", layers=(KUBERNETES,))
    assert [layer.name for layer, _ in kubernetes.layers] == [KUBERNETES]
    assert kubernetes.project == "philosophy-kubernetes"
    assert not any(r.type.startswith("aws:") for r in kubernetes.resources)


def test_layer_projects_and_directories_agree_with_their_pulumi_yaml() -> None:
    import yaml

    from philosophy_infra.layers import LAYERS

    for layer in LAYERS.values():
        project = yaml.safe_load((layer.directory(ROOT) / "Pulumi.yaml").read_text())
        assert project["name"] == layer.project
        assert project["runtime"]["options"]["virtualenv"] in (".venv", "../.venv")
        assert (layer.directory(ROOT) / project["runtime"]["options"]["virtualenv"] / "..").resolve() == ROOT or (
            layer.directory(ROOT) / project["runtime"]["options"]["virtualenv"]
        ).resolve() == (ROOT / ".venv").resolve()
        assert sorted(p.name for p in layer.directory(ROOT).glob("Pulumi.*.yaml")) == [
            # The DR stack: prod rebuilt in the DR region (README, Disaster recovery).
            "Pulumi.dr.yaml",
            "Pulumi.prod.yaml",
            "Pulumi.staging.yaml",
        ]


def test_nothing_is_configured_twice() -> None:
    aws = set(raw_config("prod"))
    kubernetes = set(raw_config("prod", KUBERNETES))
    assert {k.split(":", 1)[1] for k in aws if k.startswith("philosophy-infra:")}.isdisjoint(
        {k.split(":", 1)[1] for k in kubernetes if k.startswith("philosophy-kubernetes:")}
    )
    assert not [k for k in kubernetes if not k.startswith("philosophy-kubernetes:")]


def test_a_secret_config_value_is_never_checked_for_placeholders() -> None:
    from philosophy_infra.config.placeholders import placeholder_issues

    raw = {
        "philosophy-infra:apiToken": "token-for-111122223333",
        "philosophy-infra:owner": "ops@example.com",
    }
    found = placeholder_issues(raw, ("philosophy-infra",), secret_keys={"philosophy-infra:apiToken"})
    assert [issue.full_key for issue in found] == ["philosophy-infra:owner"]
    assert "111122223333" not in "".join(str(issue) for issue in found)
