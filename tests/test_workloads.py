"""The service's Kubernetes workloads: every rendered object is valid for the cluster's Kubernetes version,
and carries the settings the seed and the hardening checklist ask for. Expected values come from the stack
files (the input), not from the components."""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pglast
import pytest
import yaml

from philosophy_infra import cli
from philosophy_infra.manifests import kubernetes_objects
from philosophy_infra.plan import Plan
from philosophy_infra.stack_plan import StackPlan
from tests.conftest import AWS, KUBERNETES, ROOT, encode, raw_config, run_stack, stack_plan, stack_yaml

STACKS = ["prod", "staging"]
CUSTOM_RESOURCE_GROUPS = (
    "external-secrets.io",
    "generators.external-secrets.io",
    "autoscaling.k8s.io",
    "monitoring.coreos.com",
)
NS = "philosophy-app"
SCHEMA_NS = "philosophy-schema"


def workloads(stack: str) -> dict[str, Any]:
    config: dict[str, Any] = stack_yaml(stack, KUBERNETES)["config"]["philosophy-kubernetes:workloads"]
    return config


def objects(plan: Plan) -> list[dict[str, Any]]:
    return kubernetes_objects(plan)


def obj(plan: Plan, kind: str, name: str, namespace: str | None = NS) -> dict[str, Any]:
    """One object by kind and name, in the app namespace unless another is named (None: cluster-scoped too)."""
    found = [
        o
        for o in objects(plan)
        if o["kind"] == kind
        and o["metadata"]["name"] == name
        and (namespace is None or o["metadata"].get("namespace", namespace) == namespace)
    ]
    assert len(found) == 1, (kind, name, [o["metadata"]["name"] for o in objects(plan) if o["kind"] == kind])
    return found[0]


def is_schema_job(o: dict[str, Any]) -> bool:
    return bool(o["kind"] == "Job" and o["metadata"]["name"].startswith("schema-"))


def pod(plan: Plan, deployment: str) -> dict[str, Any]:
    spec: dict[str, Any] = obj(plan, "Deployment", deployment)["spec"]["template"]["spec"]
    return spec


@pytest.mark.parametrize("stack", STACKS)
def test_every_object_is_valid_for_the_clusters_kubernetes_version(stack: str, request: pytest.FixtureRequest) -> None:
    plan = stack_plan(request, stack)
    version = stack_yaml(stack)["config"]["philosophy-infra:cluster"]["kubernetesVersion"]
    checked = 0
    for o in objects(plan):
        if o["apiVersion"].split("/")[0] in CUSTOM_RESOURCE_GROUPS:
            continue
        kubernetes_validate.validate(o, version, strict=True)
        checked += 1
    assert checked >= 20
    assert not [o for o in objects(plan) if o["kind"] == "Secret"], "secrets come from External Secrets, never Pulumi"


def test_the_cli_writes_the_manifests_as_yaml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    code = cli.main(["plan", "--stack", "prod", "--manifests", str(tmp_path), "--quiet"])
    assert code == 0, capsys.readouterr().err
    files = sorted(tmp_path.glob("*.yaml"))
    kinds = {yaml.safe_load(f.read_text())["kind"] for f in files}
    assert {"Namespace", "ConfigMap", "ExternalSecret", "Deployment", "Service", "HorizontalPodAutoscaler"} <= kinds
    assert {"VerticalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy", "Job"} <= kinds
    assert (tmp_path / f"{NS}.deployment.philosophy-api.yaml").exists()
    text = "".join(f.read_text() for f in files)
    assert not re.search(r"offline-plan-[0-9a-f]{7}", text)


@pytest.mark.parametrize("stack", STACKS)
def test_namespace_injects_istio_and_enforces_the_restricted_standard(
    stack: str, request: pytest.FixtureRequest
) -> None:
    labels = obj(stack_plan(request, stack), "Namespace", NS)["metadata"]["labels"]
    assert labels["istio-injection"] == "enabled"
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


@pytest.mark.parametrize("stack", STACKS)
def test_app_config_carries_the_seeds_settings(stack: str, request: pytest.FixtureRequest) -> None:
    data = obj(stack_plan(request, stack), "ConfigMap", "app-config")["data"]
    assert data["NODE_ENV"] == "production" and data["API_PORT"] == "3000"
    assert data["ENABLE_METRICS"] == "true" and data["ENABLE_TRACING"] == "true"
    assert data["LOG_LEVEL"] == workloads(stack)["logLevel"]
    assert data["DB_NAME"] == stack_yaml(stack)["config"]["philosophy-infra:database"]["databaseName"]


def test_secrets_are_references_to_secrets_manager_never_values(prod_plan: Plan) -> None:
    out = prod_plan.outputs
    refs = {
        (o["metadata"]["namespace"], o["metadata"]["name"]): {d["remoteRef"]["key"] for d in o["spec"]["data"]}
        for o in objects(prod_plan)
        if o["kind"] == "ExternalSecret" and "data" in o["spec"]
    }
    # The one secret no store holds: Grafana's admin password, generated in the cluster.
    generated = {
        (o["metadata"]["namespace"], o["metadata"]["name"])
        for o in objects(prod_plan)
        if o["kind"] == "ExternalSecret" and "data" not in o["spec"]
    }
    assert generated == {("monitoring", "grafana-admin")}
    assert refs == {
        (NS, "cache-credentials"): {out["cacheAuthSecretArn"]},
        (NS, "app-secrets"): {out["jwtSecretArn"]},
        (NS, "llm-credentials"): {out["llmApiKeySecretArn"]},
        # The master secret only in the schema Job's namespace.
        (SCHEMA_NS, "database-admin"): {out["databaseMasterSecretArn"]},
        # The monitoring user's: its password's verifier for the Job, the password for the exporter.
        (SCHEMA_NS, "monitor-verifier"): {out["databaseMonitorSecretArn"]},
        ("monitoring", "database-monitor"): {out["databaseMonitorSecretArn"]},
        # The cache's token for the redis exporter, in `monitoring`.
        ("monitoring", "cache-auth"): {out["cacheAuthSecretArn"]},
    }
    store = obj(prod_plan, "SecretStore", "aws-secrets-manager")["spec"]["provider"]["aws"]
    assert (store["service"], store["region"]) == ("SecretsManager", "eu-west-1")
    for o in objects(prod_plan):
        if o["kind"] == "ExternalSecret":
            assert o["metadata"]["annotations"] == {"pulumi.com/waitFor": "condition=Ready"}, "deploy waits for sync"
    # Pulumi writes only the values it generates (the cache's AUTH token, the monitoring user's password), both
    # as secrets: operators put the LLM key and JWT secret in Secrets Manager.
    versions = prod_plan.of_type("aws:secretsmanager/secretVersion:SecretVersion")
    assert sorted(v.name for v in versions) == ["cache-auth-value", "database-monitor-value"]
    assert all(v.inputs["secretString"] == "[secret]" for v in versions)
    admin = obj(prod_plan, "ExternalSecret", "database-admin", SCHEMA_NS)["spec"]["target"]["template"]["data"]
    url = admin["DATABASE_URL"]
    assert url.startswith("postgresql://{{ .username | urlquery }}:{{ .password | urlquery }}@")
    assert url.endswith(f":5432/{out['databaseName']}?sslmode=verify-full&sslrootcert=/etc/rds-ca/ca.pem")


def test_external_secrets_may_read_this_services_secrets_only(prod_plan: Plan) -> None:
    policy = json.loads(
        prod_plan.one("aws:iam/rolePolicy:RolePolicy", "workload-roles-secrets-reader-inline").inputs["policy"]
    )
    read = next(st for st in policy["Statement"] if st["Sid"] == "ReadTheServiceSecrets")
    out = prod_plan.outputs
    # Never the database's master secret: the app namespace cannot read it at all.
    assert set(read["Resource"]) == {out["cacheAuthSecretArn"], out["jwtSecretArn"], out["llmApiKeySecretArn"]}
    admin = json.loads(
        prod_plan.one("aws:iam/rolePolicy:RolePolicy", "workload-roles-schema-admin-inline").inputs["policy"]
    )
    admin_read = next(st for st in admin["Statement"] if st["Sid"] == "ReadTheServiceSecrets")
    assert set(admin_read["Resource"]) == {out["databaseMasterSecretArn"], out["databaseMonitorSecretArn"]}
    # The monitoring namespace's readers: each its own secret.
    for reader_account, secret in (("database-monitor-reader", "databaseMonitorSecretArn"),
                                   ("cache-secret-reader", "cacheAuthSecretArn")):  # fmt: skip
        monitor = json.loads(
            prod_plan.one("aws:iam/rolePolicy:RolePolicy", f"workload-roles-{reader_account}-inline").inputs["policy"]
        )
        assert next(st for st in monitor["Statement"] if st["Sid"] == "ReadTheServiceSecrets")["Resource"] == [
            out[secret]
        ]
    admin_trust = json.loads(
        prod_plan.one("aws:iam/role:Role", "workload-roles-schema-admin-role").inputs["assumeRolePolicy"]
    )
    assert "system:serviceaccount:philosophy-schema:schema-admin" in (
        admin_trust["Statement"][0]["Condition"]["StringEquals"].values()
    )
    decrypt = next(st for st in policy["Statement"] if st["Sid"] == "DecryptThroughSecretsManager")
    assert decrypt["Condition"] == {"StringEquals": {"kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com"}}
    # The store signs in as this namespace's reader account; the operator itself holds no AWS role, so a
    # SecretStore in another namespace cannot borrow this access.
    store = obj(prod_plan, "SecretStore", "aws-secrets-manager")["spec"]["provider"]["aws"]
    assert store["auth"] == {"jwt": {"serviceAccountRef": {"name": "secrets-reader"}}}
    reader = obj(prod_plan, "ServiceAccount", "secrets-reader")["metadata"]["annotations"]
    assert reader["eks.amazonaws.com/role-arn"].startswith("arn:aws:iam::")
    release = prod_plan.one("kubernetes:helm.sh/v3:Release", "services-external-secrets").inputs
    assert release["version"] and "annotations" not in release["values"]["serviceAccount"]
    trust = json.loads(
        prod_plan.one("aws:iam/role:Role", "workload-roles-secrets-reader-role").inputs["assumeRolePolicy"]
    )
    assert (
        "system:serviceaccount:philosophy-app:secrets-reader"
        in trust["Statement"][0]["Condition"]["StringEquals"].values()
    )


@pytest.mark.parametrize("stack", STACKS)
def test_api_deployment_follows_the_seed(stack: str, request: pytest.FixtureRequest) -> None:
    plan, want = stack_plan(request, stack), workloads(stack)["api"]
    deployment = obj(plan, "Deployment", "philosophy-api")
    assert deployment["spec"]["replicas"] == want["replicas"]
    template = deployment["spec"]["template"]
    assert template["metadata"]["annotations"] | {"checksum/config": "-"} == {
        "checksum/config": "-",
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "9090",
        "prometheus.io/path": "/metrics",
    }
    spec = template["spec"]
    # No migrations in the pods (the seed ran them in every replica at once): the schema Job runs them first.
    assert spec.get("initContainers", []) == []
    api = spec["containers"][0]
    assert {p["name"]: p["containerPort"] for p in api["ports"]} == {"http": 3000, "metrics": 9090}
    assert api["livenessProbe"] == {
        "httpGet": {"path": "/health/live", "port": 3000},
        "initialDelaySeconds": 30,
        "periodSeconds": 10,
        "timeoutSeconds": 5,
        "failureThreshold": 3,
    }
    ready = api["readinessProbe"]
    assert ready["httpGet"] == {"path": "/health/ready", "port": 3000}
    assert (ready["initialDelaySeconds"], ready["periodSeconds"], ready["timeoutSeconds"]) == (20, 5, 3)
    assert api["resources"] == {"requests": want["requests"], "limits": want["limits"]}
    uploads = next(v for v in spec["volumes"] if v["name"] == "uploads")
    claim = uploads["ephemeral"]["volumeClaimTemplate"]["spec"]
    assert claim["storageClassName"] == "gp3-scratch"
    assert claim["resources"]["requests"]["storage"] == f"{want['uploadsVolumeGib']}Gi"
    scratch = obj(plan, "StorageClass", "gp3-scratch")
    assert scratch["reclaimPolicy"] == "Delete", "a per-pod claim must not leave a volume behind per pod"
    assert scratch["parameters"]["encrypted"] == "true" and scratch["parameters"]["type"] == "gp3"
    assert {"name": "uploads", "mountPath": "/app/uploads"} in api["volumeMounts"]


@pytest.mark.parametrize("stack", STACKS)
def test_websocket_and_worker_follow_the_seed(stack: str, request: pytest.FixtureRequest) -> None:
    plan, want = stack_plan(request, stack), workloads(stack)
    ws = obj(plan, "Deployment", "philosophy-websocket")
    assert ws["spec"]["replicas"] == want["websocket"]["replicas"]
    container = ws["spec"]["template"]["spec"]["containers"][0]
    assert container["ports"] == [{"name": "ws", "containerPort": 3001}]
    assert {e["name"]: e["value"] for e in container["env"]} == {
        "STICKY_SESSIONS": "true",
        "REDIS_ADAPTER": "true",
        "OTEL_SERVICE_NAME": "philosophy-websocket",
    }
    assert container["resources"] == {"requests": want["websocket"]["requests"], "limits": want["websocket"]["limits"]}

    worker = obj(plan, "Deployment", "claude-worker")
    assert worker["spec"]["replicas"] == want["worker"]["replicas"]
    spec = worker["spec"]["template"]["spec"]
    group = stack_yaml(stack)["config"]["philosophy-infra:nodeGroups"][want["worker"]["nodeGroup"]]
    assert spec["nodeSelector"] == group["labels"] and spec["nodeSelector"]["Workload"] == "ai-processing"
    assert "workload" not in spec["nodeSelector"], "label keys are case-sensitive; the nodes carry `Workload`"
    assert spec["tolerations"] == [{"key": "ai-workload", "operator": "Equal", "value": "true", "effect": "NoSchedule"}]
    env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
    assert env["WORKER_CONCURRENCY"] == str(want["worker"]["concurrency"]) == "3"
    assert env["CLAUDE_RATE_LIMIT"] == str(want["worker"]["rateLimit"]) == "50"
    assert spec["containers"][0]["resources"] == {
        "requests": want["worker"]["requests"],
        "limits": want["worker"]["limits"],
    }


def test_prod_runs_the_seeds_replicas_and_sizes() -> None:
    want = workloads("prod")
    assert (want["api"]["replicas"], want["websocket"]["replicas"], want["worker"]["replicas"]) == (3, 2, 5)
    assert want["api"]["requests"] == {"cpu": "250m", "memory": "512Mi"}
    assert want["worker"]["limits"] == {"cpu": "2000m", "memory": "2Gi"}


@pytest.mark.parametrize("stack", STACKS)
def test_every_container_is_hardened_pinned_and_sized(stack: str, request: pytest.FixtureRequest) -> None:
    plan = stack_plan(request, stack)
    pods = [o["spec"]["template"]["spec"] for o in objects(plan) if o["kind"] in ("Deployment", "Job")]
    # The api, the websocket, the worker, the schema Job and the search setup Job.
    assert len(pods) == 5
    for spec in pods:
        assert spec["automountServiceAccountToken"] is False
        assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] >= 10000
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for c in [*spec.get("initContainers", []), *spec["containers"]]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True, c["name"]
            assert sc["capabilities"] == {"drop": ["ALL"]} and sc["runAsNonRoot"] is True
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
            repository, _, tag = c["image"].rpartition(":")
            assert repository and tag and tag != "latest" and "/" not in tag, c["image"]
            assert c["resources"]["requests"] and c["resources"]["limits"]["memory"], c["name"]
            assert any(m["mountPath"] == "/tmp" for m in c["volumeMounts"]), "a writable /tmp on a read-only root"
    for name in ("philosophy-api", "philosophy-websocket", "claude-worker"):
        spread = pod(plan, name)["topologySpreadConstraints"]
        assert {s["topologyKey"] for s in spread} == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
        assert obj(plan, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]["image"].endswith(
            ":" + workloads(stack)["imageTag"]
        )


def test_services_and_service_accounts(prod_plan: Plan) -> None:
    api = obj(prod_plan, "Service", "philosophy-api")["spec"]
    assert {p["name"]: p["port"] for p in api["ports"]} == {"http": 3000, "metrics": 9090}
    ws = obj(prod_plan, "Service", "philosophy-websocket")["spec"]
    assert [p["port"] for p in ws["ports"]] == [3001] and ws["sessionAffinity"] == "ClientIP"
    accounts = {o["metadata"]["name"]: o for o in objects(prod_plan) if o["kind"] == "ServiceAccount"}
    assert set(accounts) == {
        "philosophy-api",
        "philosophy-websocket",
        "claude-worker",
        "secrets-reader",
        "schema-admin",
        "cache-secret-reader",
        "database-monitor-reader",
        "search-admin",
    }
    assert all(a["automountServiceAccountToken"] is False for a in accounts.values())
    irsa = {n for n, a in accounts.items() if "eks.amazonaws.com/role-arn" in (a["metadata"].get("annotations") or {})}
    assert irsa == set(accounts) - {"philosophy-websocket"}, "the websocket has none"


def test_irsa_roles_are_scoped_to_what_each_workload_needs(prod_plan: Plan) -> None:
    api = json.loads(
        prod_plan.one("aws:iam/rolePolicy:RolePolicy", "workload-roles-philosophy-api-inline").inputs["policy"]
    )
    bucket = prod_plan.outputs["assetsBucketArn"]
    assert {r for st in api["Statement"] for r in [st["Resource"]] if isinstance(r, str)} >= {bucket, f"{bucket}/*"}
    actions = {
        a for st in api["Statement"] for a in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])
    }
    assert {"s3:GetObject", "s3:PutObject"} <= actions and not any(a.startswith("secretsmanager") for a in actions)
    worker = json.loads(
        prod_plan.one("aws:iam/rolePolicy:RolePolicy", "workload-roles-claude-worker-inline").inputs["policy"]
    )
    read = next(st for st in worker["Statement"] if st["Sid"] == "ReadTheServiceSecrets")
    assert read["Resource"] == [prod_plan.outputs["llmApiKeySecretArn"]]
    trust = json.loads(
        prod_plan.one("aws:iam/role:Role", "workload-roles-claude-worker-role").inputs["assumeRolePolicy"]
    )
    conditions = trust["Statement"][0]["Condition"]["StringEquals"]
    assert "system:serviceaccount:philosophy-app:claude-worker" in conditions.values()


def test_network_policies_deny_by_default_and_allow_only_the_service_flows(prod_plan: Plan) -> None:
    every = [o for o in objects(prod_plan) if o["kind"] == "NetworkPolicy"]
    policies = {o["metadata"]["name"]: o["spec"] for o in every if o["metadata"]["namespace"] == NS}
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert {"philosophy-api", "philosophy-websocket", "claude-worker", "allow-dns"} <= set(policies)
    # The schema namespace: deny all, then DNS and PostgreSQL for the Job.
    schema = {o["metadata"]["name"]: o["spec"] for o in every if o["metadata"]["namespace"] == SCHEMA_NS}
    assert schema["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert [r["ports"] for r in schema["schema"]["egress"]][1] == [{"protocol": "TCP", "port": 5432}]
    mesh = policies["allow-mesh"]
    assert mesh["egress"][0]["ports"] == [{"protocol": "TCP", "port": 15012}], "sidecars reach istiod"
    database_cidrs = stack_yaml("prod")["config"]["philosophy-infra:network"]["databaseSubnets"]
    for name, spec in policies.items():
        for rule in spec.get("egress", []):
            ports = {p["port"] for p in rule["ports"]}
            if ports & {5432, 6379}:
                assert [t["ipBlock"]["cidr"] for t in rule["to"]] == database_cidrs, name


def admitted(spec: dict[str, Any], address: str, port: int) -> bool:
    """Whether a NetworkPolicy's ingress admits a source address on a port, by its ipBlocks (cidr and except)."""
    ip = ipaddress.ip_address(address)
    for rule in spec.get("ingress", []):
        if port not in {p["port"] for p in rule.get("ports", [])}:
            continue
        for source in rule.get("from", []):
            block = source.get("ipBlock")
            inside = bool(block) and ip in ipaddress.ip_network(block["cidr"])
            if inside and not any(ip in ipaddress.ip_network(e) for e in block.get("except", [])):
                return True
    return False


@pytest.mark.parametrize("stack", STACKS)
def test_only_the_load_balancers_subnets_reach_the_api_and_websocket_never_other_pods(
    stack: str, request: pytest.FixtureRequest
) -> None:
    """With the VPC CNI a pod's IP is a VPC address, so "from the VPC" would admit every pod of every namespace."""
    plan = stack_plan(request, stack)
    policies = {o["metadata"]["name"]: o["spec"] for o in objects(plan) if o["kind"] == "NetworkPolicy"}
    network = stack_yaml(stack)["config"]["philosophy-infra:network"]
    for workload, port in (("philosophy-api", 3000), ("philosophy-websocket", 3001)):
        spec = policies[workload]
        for cidr in network["publicSubnets"]:
            # A load balancer's address in a public subnet.
            assert admitted(spec, str(ipaddress.ip_network(cidr)[10]), port), (workload, cidr)
        for tier in ("privateSubnets", "databaseSubnets"):
            for cidr in network[tier]:
                # A pod (private subnets), a node, anything in the data tier: refused.
                assert not admitted(spec, str(ipaddress.ip_network(cidr)[10]), port), (workload, tier, cidr)


@pytest.mark.parametrize("stack", STACKS)
def test_api_autoscales_as_the_seed_says(stack: str, request: pytest.FixtureRequest) -> None:
    plan, want = stack_plan(request, stack), workloads(stack)["api"]
    hpa = obj(plan, "HorizontalPodAutoscaler", "philosophy-api-hpa")
    assert hpa["apiVersion"] == "autoscaling/v2"
    spec = hpa["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (want["minReplicas"], want["maxReplicas"])
    targets = {m["resource"]["name"]: m["resource"]["target"]["averageUtilization"] for m in spec["metrics"]}
    assert targets == {"cpu": 70, "memory": 80}, "custom metrics stay off until an adapter serves them"
    down, up = spec["behavior"]["scaleDown"], spec["behavior"]["scaleUp"]
    assert down["stabilizationWindowSeconds"] == 300 and down["selectPolicy"] == "Min"
    assert {(p["type"], p["value"], p["periodSeconds"]) for p in down["policies"]} == {
        ("Percent", 10, 60),
        ("Pods", 2, 60),
    }
    assert up["stabilizationWindowSeconds"] == 60 and up["selectPolicy"] == "Max"
    assert {(p["type"], p["value"], p["periodSeconds"]) for p in up["policies"]} == {
        ("Percent", 100, 30),
        ("Pods", 5, 30),
    }


def test_only_the_autoscaled_deployment_leaves_its_replicas_to_the_hpa(prod_plan: Plan) -> None:
    ignored = {r.name: r.ignore_changes for r in prod_plan.of_type("kubernetes:apps/v1:Deployment")}
    assert ignored == {"api-deployment": ["spec.replicas"], "websocket-deployment": [], "worker-deployment": []}


def test_prod_api_scales_between_3_and_20() -> None:
    assert (workloads("prod")["api"]["minReplicas"], workloads("prod")["api"]["maxReplicas"]) == (3, 20)


def test_custom_metrics_switch_adds_the_seeds_rps_and_queue_depth() -> None:
    raw = raw_config("staging", KUBERNETES)
    raw["philosophy-kubernetes:workloads"]["customMetrics"] = "adapter"
    plan = run_stack("staging", kubernetes_config=encode(raw))
    metrics = obj(plan, "HorizontalPodAutoscaler", "philosophy-api-hpa")["spec"]["metrics"]
    by_type = {m["type"]: m for m in metrics}
    assert by_type["Pods"]["pods"]["metric"]["name"] == "http_requests_per_second"
    assert by_type["Pods"]["pods"]["target"] == {"type": "AverageValue", "averageValue": "1000"}
    assert by_type["External"]["external"]["metric"]["selector"] == {"matchLabels": {"queue_name": "ai-generation"}}


def test_vpa_recommends_without_fighting_the_hpa(prod_plan: Plan) -> None:
    vpa = obj(prod_plan, "VerticalPodAutoscaler", "philosophy-api-vpa")
    assert vpa["apiVersion"] == "autoscaling.k8s.io/v1"
    assert vpa["spec"]["updatePolicy"] == {"updateMode": "Off"}
    policy = vpa["spec"]["resourcePolicy"]["containerPolicies"][0]
    assert policy["minAllowed"] == {"cpu": "100m", "memory": "128Mi"} and policy["maxAllowed"] == {
        "cpu": "2",
        "memory": "2Gi",
    }
    release = prod_plan.one("kubernetes:helm.sh/v3:Release", "services-vpa")
    assert release.inputs["values"]["recommender"] == {"enabled": True}
    assert release.inputs["values"]["updater"] == {"enabled": False}
    vpa_resource = prod_plan.one("kubernetes:autoscaling.k8s.io/v1:VerticalPodAutoscaler")
    namespace = prod_plan.one("kubernetes:core/v1:Namespace", "app-namespace")
    assert release.urn in namespace.dependencies and namespace.urn in vpa_resource.dependencies
    assert prod_plan.one("aws:eks/addon:Addon", "addons-metrics-server").inputs["addonName"] == "metrics-server"


def test_every_workload_has_a_disruption_budget(prod_plan: Plan) -> None:
    budgets = {
        o["metadata"]["name"]: o["spec"]
        for o in objects(prod_plan)
        if o["kind"] == "PodDisruptionBudget" and o["metadata"]["namespace"] == NS
    }
    assert set(budgets) == {"philosophy-api", "philosophy-websocket", "claude-worker"}
    assert all(b["maxUnavailable"] == 1 and b["selector"]["matchLabels"]["app"] == n for n, b in budgets.items())


def test_the_schema_job_prepares_the_database_once_per_release(prod_plan: StackPlan, staging_plan: Plan) -> None:
    job = obj(prod_plan, "Job", next(o["metadata"]["name"] for o in objects(prod_plan) if is_schema_job(o)), None)
    assert job["metadata"]["namespace"] == SCHEMA_NS and re.fullmatch(r"schema-[0-9a-f]{8}", job["metadata"]["name"])
    pod_spec = job["spec"]["template"]["spec"]
    assert pod_spec["serviceAccountName"] == "schema-admin"
    [setup] = pod_spec["initContainers"]
    [migrations] = pod_spec["containers"]
    env = {e["name"]: e for e in setup["env"]}
    sql = env["SCHEMA_SQL"]["value"]
    # The extension, the application user (IAM login only: no password), and DML on what migrations create.
    for statement in (
        "CREATE EXTENSION IF NOT EXISTS vector;",
        "CREATE ROLE philosophy_app LOGIN;",
        "GRANT rds_iam TO philosophy_app;",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES",
    ):
        assert statement in sql, statement
    assert "SUPERUSER" not in sql.upper() and "CREATEROLE" not in sql.upper()
    # The monitoring user: statistics only, and a password only as the verifier psql substitutes from a Secret.
    assert "CREATE ROLE philosophy_monitor LOGIN;" in sql and "GRANT pg_monitor TO philosophy_monitor;" in sql
    assert [line for line in sql.splitlines() if "PASSWORD" in line.upper()] == [
        "ALTER ROLE philosophy_monitor WITH LOGIN PASSWORD :'monitor_verifier';"
    ]
    assert setup["command"][-1].endswith('psql -v ON_ERROR_STOP=1 -v monitor_verifier="$MONITOR_VERIFIER"')
    assert env["MONITOR_VERIFIER"]["valueFrom"]["secretKeyRef"] == {"name": "monitor-verifier", "key": "verifier"}
    verifier = prod_plan.one("kubernetes:external-secrets.io/v1:ExternalSecret", "schema-monitor-verifier").inputs
    assert verifier["metadata"]["namespace"] == SCHEMA_NS
    [entry] = verifier["spec"]["data"]
    assert entry["remoteRef"] == {
        "key": prod_plan.layer(AWS).outputs["databaseMonitorSecretArn"],
        "property": "verifier",
    }
    # What psql receives is the env value after Kubernetes' expansion, with its variable substituted as psql
    # does (a quoted literal): it must parse as PostgreSQL (libpg_query, through pglast), statement for statement.
    received = kubernetes_env_value(sql).replace(":'monitor_verifier'", "'SCRAM-SHA-256$4096:c2FsdA==$a:b'")
    statements = [type(raw.stmt).__name__ for raw in pglast.parse_sql(received)]
    assert statements == [
        "CreateExtensionStmt",
        "DoStmt",
        "GrantRoleStmt",
        "GrantStmt",
        "AlterRoleStmt",
        *["GrantRoleStmt"],
        *["GrantStmt"] * 4,
        "AlterDefaultPrivilegesStmt",
        "AlterDefaultPrivilegesStmt",
    ]
    assert env["PGSSLMODE"]["value"] == "verify-full" and env["PGSSLROOTCERT"]["value"] == "/etc/rds-ca/ca.pem"
    assert env["PGPASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "database-admin", "key": "PGPASSWORD"}
    assert migrations["command"] == ["npm", "run", "migrate:prod"]
    assert migrations["image"] == f"{workloads('prod')['imageRegistry']}/api:{workloads('prod')['imageTag']}"
    # The api starts after it.
    job_resource = prod_plan.one("kubernetes:batch/v1:Job", "schema-job")
    api = next(r for r in prod_plan.of_type("kubernetes:apps/v1:Deployment") if r.name.startswith("api"))
    assert job_resource.urn in api.dependencies or prod_plan.one("philosophy:index:DatabaseSchema").urn in (
        api.dependencies
    )
    # The same Job for the same database and release; a new one when either changes.
    assert job["metadata"]["name"] == obj(staging_plan, "Job", job["metadata"]["name"], None)["metadata"]["name"]
    raw = raw_config("staging", KUBERNETES)
    raw["philosophy-kubernetes:workloads"]["imageTag"] = "9.9.9"
    other = next(o for o in objects(run_stack("staging", kubernetes_config=encode(raw))) if is_schema_job(o))
    assert other["metadata"]["name"] != job["metadata"]["name"]


def kubernetes_env_value(value: str) -> str:
    """An EnvVar's value as the container sees it: Kubernetes reduces `$$` to `$` and expands `$(NAME)`."""
    assert "$(" not in value.replace("$$(", ""), value
    return value.replace("$$", "$")


@pytest.mark.parametrize("stack", STACKS)
def test_no_env_value_is_changed_by_kubernetes_expansion(stack: str, request: pytest.FixtureRequest) -> None:
    """`$$` and `$(NAME)` in an env value are rewritten by the kubelet: what the program wrote must arrive as is."""
    for o in objects(stack_plan(request, stack)):
        template = (o.get("spec") or {}).get("template") or {}
        spec = template.get("spec") or {}
        for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
            for env in container.get("env") or []:
                value = env.get("value")
                if isinstance(value, str):
                    assert kubernetes_env_value(value) == value, (o["metadata"]["name"], env["name"])


def test_the_app_logs_in_with_iam_and_verifies_the_server(prod_plan: Plan) -> None:
    config = obj(prod_plan, "ConfigMap", "app-config")["data"]
    assert (config["DB_USER"], config["DB_AUTH"], config["PGSSLMODE"]) == ("philosophy_app", "iam", "verify-full")
    assert "@" in config["DATABASE_URL"] and ":" not in config["DATABASE_URL"].split("@")[0].removeprefix(
        "postgresql://"
    ), "no password in the URL"
    for deployment in ("philosophy-api", "claude-worker"):
        spec = pod(prod_plan, deployment)
        assert {"name": "rds-ca", "configMap": {"name": "rds-ca"}} in spec["volumes"]
        mounts = spec["containers"][0]["volumeMounts"]
        assert {"name": "rds-ca", "mountPath": "/etc/rds-ca", "readOnly": True} in mounts
    ca = obj(prod_plan, "ConfigMap", "rds-ca")["data"]["ca.pem"]
    assert "Amazon RDS eu-west-1 Root CA RSA2048 G1" in ca
    # Each role may log in as that one user of this one instance.
    out = prod_plan.outputs
    user = f"arn:aws:rds-db:eu-west-1:123456789012:dbuser:{out['databaseResourceId']}/philosophy_app"
    for account in ("philosophy-api", "claude-worker"):
        policy = json.loads(
            prod_plan.one("aws:iam/rolePolicy:RolePolicy", f"workload-roles-{account}-inline").inputs["policy"]
        )
        [login] = [st for st in policy["Statement"] if st["Action"] == "rds-db:connect"]
        assert login["Resource"] == user


def test_every_secret_key_a_pod_reads_is_in_its_external_secret(prod_plan: Plan) -> None:
    provided: dict[str, set[str]] = {}
    for o in objects(prod_plan):
        if o["kind"] == "ExternalSecret":
            target = o["spec"]["target"]
            keys = set((target.get("template") or {}).get("data") or {}) or {d["secretKey"] for d in o["spec"]["data"]}
            provided[target["name"]] = keys
    pods = [o["spec"]["template"]["spec"] for o in objects(prod_plan) if o["kind"] in ("Deployment", "Job")]
    for spec in pods:
        for c in [*spec.get("initContainers", []), *spec["containers"]]:
            for source in c.get("envFrom", []):
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in provided, c["name"]
            for env in c.get("env", []):
                ref = (env.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in provided[ref["name"]], (c["name"], ref)


def test_the_api_starts_after_the_extension_exists_and_restarts_on_config_changes(prod_plan: Plan) -> None:
    job = prod_plan.one("kubernetes:batch/v1:Job", "schema-job")
    assert job.urn in prod_plan.one("kubernetes:apps/v1:Deployment", "api-deployment").dependencies
    checksums = {
        name: obj(prod_plan, "Deployment", name)["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
        for name in ("philosophy-api", "philosophy-websocket", "claude-worker")
    }
    assert len(set(checksums.values())) == 1
    raw = raw_config("prod", KUBERNETES)
    raw["philosophy-kubernetes:workloads"]["logLevel"] = "debug"
    changed = obj(run_stack("prod", kubernetes_config=encode(raw)), "Deployment", "philosophy-api")
    changed = changed["spec"]["template"]["metadata"]
    assert changed["annotations"]["checksum/config"] != checksums["philosophy-api"]


def test_images_can_be_pinned_by_digest_per_image() -> None:
    digest = "sha256:" + "ab" * 32
    raw = raw_config("staging", KUBERNETES)
    raw["philosophy-kubernetes:workloads"]["imageDigests"] = {"api": digest}
    plan = run_stack("staging", kubernetes_config=encode(raw))
    tag = workloads("staging")["imageTag"]
    api = pod(plan, "philosophy-api")["containers"][0]["image"]
    assert api.endswith(f"/api:{tag}@{digest}")
    # The schema Job's migrations run the very same api image.
    job = next(o for o in objects(plan) if is_schema_job(o))
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == api
    # The others keep their tag alone.
    assert pod(plan, "philosophy-websocket")["containers"][0]["image"].endswith(f"/websocket:{tag}")


@pytest.mark.parametrize(
    ("digests", "key"),
    [
        ({"api": "sha256:abc"}, "workloads.imageDigests.api"),
        ({"frontend": "sha256:" + "0" * 64}, "workloads.imageDigests.frontend"),
    ],
)
def test_a_malformed_digest_is_refused_naming_the_image(digests: dict[str, str], key: str) -> None:
    from philosophy_infra.config.base import StackConfigError

    raw = raw_config("staging", KUBERNETES)
    raw["philosophy-kubernetes:workloads"]["imageDigests"] = digests
    with pytest.raises(StackConfigError) as info:
        run_stack("staging", kubernetes_config=encode(raw))
    assert f"philosophy-kubernetes:{key}" in str(info.value)
