"""The service's Kubernetes objects, under their two owners: what Pulumi plans (the namespace, accounts, config,
secrets, policies, the schema Job) and the release objects Argo CD syncs (the api Rollout, the Deployments,
Services, autoscaling, disruption budgets), as `render` makes them from the stack files. Every object is valid
for the cluster's Kubernetes version and carries the settings the seed and the hardening checklist ask for.
Expected values come from the stack files (the input), not from the components."""

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
from philosophy_infra.manifests import OWNER_ANNOTATION, kubernetes_objects
from philosophy_infra.plan import Plan
from philosophy_infra.stack_plan import StackPlan
from tests.conftest import (
    AWS,
    KUBERNETES,
    ROOT,
    encode,
    raw_config,
    release_for,
    release_object,
    run_stack,
    stack_plan,
    stack_yaml,
)

STACKS = ["prod", "staging"]
CUSTOM_RESOURCE_GROUPS = (
    "external-secrets.io",
    "generators.external-secrets.io",
    "autoscaling.k8s.io",
    "monitoring.coreos.com",
    # Argo CD's own objects, Argo Rollouts' templates and Istio's: validated against their vendored CRDs.
    "argoproj.io",
    "networking.istio.io",
    "security.istio.io",
    "telemetry.istio.io",
    "elbv2.k8s.aws",
)
NS = "philosophy-app"
SCHEMA_NS = "philosophy-schema"
# The service's workloads, in the release objects: the api is a canary Rollout, the others Deployments.
WORKLOADS = {"philosophy-api": "Rollout", "philosophy-websocket": "Deployment", "claude-worker": "Deployment"}


def workloads(stack: str) -> dict[str, Any]:
    config: dict[str, Any] = stack_yaml(stack, KUBERNETES)["config"]["philosophy-kubernetes:workloads"]
    return config


def objects(plan: Plan) -> list[dict[str, Any]]:
    return kubernetes_objects(plan)


def obj(plan: Plan, kind: str, name: str, namespace: str | None = NS) -> dict[str, Any]:
    """One object of the plan by kind and name, in the app namespace unless another is named (None: any)."""
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


def workload(release: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return release_object(release, WORKLOADS[name], name)


def pod(release: list[dict[str, Any]], name: str) -> dict[str, Any]:
    spec: dict[str, Any] = workload(release, name)["spec"]["template"]["spec"]
    return spec


def container_env(container: dict[str, Any]) -> dict[str, str]:
    """A container's `env`, as names to values: every entry is a plain value (secrets come through envFrom)."""
    assert all(set(e) == {"name", "value"} for e in container["env"]), container["name"]
    return {e["name"]: e["value"] for e in container["env"]}


def pod_templates(plan: Plan, release: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, Any]]]:
    """(namespace, name, pod spec) of every pod template, Pulumi's and Argo CD's."""
    kinds = ("Deployment", "Rollout", "StatefulSet", "DaemonSet", "Job")
    return [
        (o["metadata"].get("namespace", ""), o["metadata"]["name"], o["spec"]["template"]["spec"])
        for o in [*objects(plan), *release]
        if o["kind"] in kinds
    ]


def as_deployment(rollout: dict[str, Any]) -> dict[str, Any]:
    """The Rollout's selector and pod template in the Deployment it replaced: what Kubernetes' own schema checks
    (the Rollout CRD leaves its pod template to the API server's Pod validation)."""
    spec = rollout["spec"]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": rollout["metadata"],
        "spec": {"selector": spec["selector"], "template": spec["template"]},
    }


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
    # Argo CD's: the built-in kinds as they are, the api's Rollout by its pod template.
    release = release_for(stack)
    validated = []
    for o in release:
        if o["kind"] == "Rollout":
            o = as_deployment(o)
        elif o["apiVersion"].split("/")[0] in CUSTOM_RESOURCE_GROUPS:
            continue
        kubernetes_validate.validate(o, version, strict=True)
        validated.append((o["kind"], o["metadata"]["name"]))
    assert sorted(validated) == sorted(
        [
            *(("Deployment", n) for n in WORKLOADS),
            ("Service", "philosophy-api"),
            ("Service", "philosophy-websocket"),
            ("HorizontalPodAutoscaler", "philosophy-api-hpa"),
            *(("PodDisruptionBudget", n) for n in WORKLOADS),
        ]
    )
    for owned in (objects(plan), release):
        assert not [o for o in owned if o["kind"] == "Secret"], "secrets come from External Secrets, never a manifest"


def test_the_cli_writes_the_manifests_of_both_owners_as_yaml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    code = cli.main(["plan", "--stack", "prod", "--manifests", str(tmp_path), "--quiet"])
    assert code == 0, capsys.readouterr().err
    files = sorted(tmp_path.glob("*.yaml"))
    documents = {f.name: yaml.safe_load(f.read_text()) for f in files}
    kinds = {d["kind"] for d in documents.values()}
    assert {"Namespace", "ConfigMap", "ExternalSecret", "Rollout", "Deployment", "Service"} <= kinds
    assert {"HorizontalPodAutoscaler", "VerticalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy", "Job"} <= kinds

    def owner(name: str) -> str:
        return owner_of(documents[name])

    # Each object says who owns it: the release objects are Argo CD's, what they stand on is Pulumi's.
    assert owner(f"{NS}.rollout.philosophy-api.yaml") == owner(f"{NS}.deployment.claude-worker.yaml") == "argocd"
    assert owner(f"{NS}.horizontalpodautoscaler.philosophy-api-hpa.yaml") == "argocd"
    assert owner(f"_cluster.namespace.{NS}.yaml") == owner(f"{NS}.configmap.app-endpoints.yaml") == "pulumi"
    [job] = [name for name, d in documents.items() if is_schema_job(d)]
    assert owner(f"{NS}.serviceaccount.philosophy-api.yaml") == owner(job) == "pulumi"
    # Argo CD's are exactly the rendered release objects; every other object is Pulumi's.
    argo_cd = sorted((d["kind"], d["metadata"]["name"]) for d in documents.values() if owner_of(d) == "argocd")
    assert argo_cd == sorted((o["kind"], o["metadata"]["name"]) for o in release_for("prod"))
    assert {owner_of(d) for d in documents.values()} == {"pulumi", "argocd"}
    text = "".join(f.read_text() for f in files)
    assert not re.search(r"offline-plan-[0-9a-f]{7}", text)


def owner_of(document: dict[str, Any]) -> str:
    return str(document["metadata"]["annotations"][OWNER_ANNOTATION])


@pytest.mark.parametrize("stack", STACKS)
def test_namespace_injects_istio_and_enforces_the_restricted_standard(
    stack: str, request: pytest.FixtureRequest
) -> None:
    labels = obj(stack_plan(request, stack), "Namespace", NS)["metadata"]["labels"]
    assert labels["istio-injection"] == "enabled"
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


@pytest.mark.parametrize("stack", STACKS)
def test_every_pod_carries_the_seeds_settings(stack: str, request: pytest.FixtureRequest) -> None:
    plan, release = stack_plan(request, stack), release_for(stack)
    endpoints = obj(plan, "ConfigMap", "app-endpoints")["data"]
    for name in WORKLOADS:
        [container] = pod(release, name)["containers"]
        env = container_env(container)
        assert env["NODE_ENV"] == "production" and env["API_PORT"] == "3000", name
        assert env["ENABLE_METRICS"] == "true" and env["ENABLE_TRACING"] == "true", name
        assert env["LOG_LEVEL"] == workloads(stack)["logLevel"], name
        # Where things are comes from Pulumi's ConfigMap, then the workload's Secrets; nothing is said twice
        # (an `env` entry would silently win over the ConfigMap's).
        assert container["envFrom"][0] == {"configMapRef": {"name": "app-endpoints"}}, name
        assert all("secretRef" in source for source in container["envFrom"][1:]), name
        assert not set(env) & set(endpoints), name
    assert endpoints["DB_NAME"] == stack_yaml(stack)["config"]["philosophy-infra:database"]["databaseName"]


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
        # Neo4j's password: for the service's graph clients, and for Neo4j itself in its namespace.
        (NS, "graph-credentials"): {out["neo4jPasswordSecretArn"]},
        ("neo4j", "neo4j-auth"): {out["neo4jPasswordSecretArn"]},
        # The master secret only in the schema Job's namespace.
        (SCHEMA_NS, "database-admin"): {out["databaseMasterSecretArn"]},
        # The monitoring user's: its password's verifier for the Job, the password for the exporter.
        (SCHEMA_NS, "monitor-verifier"): {out["databaseMonitorSecretArn"]},
        ("monitoring", "database-monitor"): {out["databaseMonitorSecretArn"]},
        # The cache's token for the redis exporter, in `monitoring`.
        ("monitoring", "cache-auth"): {out["cacheAuthSecretArn"]},
        # Argo CD's credentials for this repository, in `argocd`.
        ("argocd", "philosophy-repository"): {out["gitRepositorySecretArn"]},
    }
    store = obj(prod_plan, "SecretStore", "aws-secrets-manager")["spec"]["provider"]["aws"]
    assert (store["service"], store["region"]) == ("SecretsManager", "eu-west-1")
    for o in objects(prod_plan):
        if o["kind"] == "ExternalSecret":
            assert o["metadata"]["annotations"] == {"pulumi.com/waitFor": "condition=Ready"}, "deploy waits for sync"
    # Pulumi writes only the values it generates (the cache's AUTH token, the monitoring user's and Neo4j's
    # passwords), all as secrets: operators put the LLM key, the JWT secret and the repository's credentials in
    # Secrets Manager.
    versions = prod_plan.of_type("aws:secretsmanager/secretVersion:SecretVersion")
    assert sorted(v.name for v in versions) == [
        "cache-auth-value",
        "database-monitor-value",
        "graph-store-password-value",
    ]
    assert all(v.inputs["secretString"] == "[secret]" for v in versions)
    admin = obj(prod_plan, "ExternalSecret", "database-admin", SCHEMA_NS)["spec"]["target"]["template"]["data"]
    url = admin["DATABASE_URL"]
    assert url.startswith("postgresql://{{ .username | urlquery }}:{{ .password | urlquery }}@")
    assert url.endswith(f":5432/{out['databaseName']}?sslmode=verify-full&sslrootcert=/etc/rds-ca/ca.pem")
    # The release objects, in a repository anyone with read access sees, name Secrets and never hold a value.
    for o in release_for("prod"):
        assert o["kind"] != "Secret"
        for c in o["spec"].get("template", {}).get("spec", {}).get("containers", []):
            # Credentials reach the container from the Secrets External Secrets writes (envFrom), never as `env`.
            secret_like = [e["name"] for e in c["env"] if re.search(r"PASSWORD|TOKEN|SECRET|API_KEY", e["name"])]
            assert secret_like == [] and all("valueFrom" not in e for e in c["env"]), c["name"]
            assert [s["secretRef"]["name"] for s in c["envFrom"] if "secretRef" in s], c["name"]


def test_external_secrets_may_read_this_services_secrets_only(prod_plan: Plan) -> None:
    policy = json.loads(
        prod_plan.one("aws:iam/rolePolicy:RolePolicy", "workload-roles-secrets-reader-inline").inputs["policy"]
    )
    read = next(st for st in policy["Statement"] if st["Sid"] == "ReadTheServiceSecrets")
    out = prod_plan.outputs
    # Never the database's master secret: the app namespace cannot read it at all.
    assert set(read["Resource"]) == {
        out["cacheAuthSecretArn"],
        out["jwtSecretArn"],
        out["llmApiKeySecretArn"],
        out["neo4jPasswordSecretArn"],
    }
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
def test_api_rollout_follows_the_seed(stack: str, request: pytest.FixtureRequest) -> None:
    plan, release, want = stack_plan(request, stack), release_for(stack), workloads(stack)["api"]
    rollout = release_object(release, "Rollout", "philosophy-api")
    assert rollout["apiVersion"] == "argoproj.io/v1alpha1"
    # No count of its own: the HPA's, between the stack's bounds (test_api_autoscales_as_the_seed_says).
    assert "replicas" not in rollout["spec"] and "replicas" not in want
    template = rollout["spec"]["template"]
    # No `prometheus.io/*` annotations (the operator ignores them: PodMonitors scrape, test_monitoring.py) and no
    # config checksum (the settings are in the template itself).
    assert template["metadata"].get("annotations", {}) == {}
    # What the canary's analysis tells the new release by.
    assert template["metadata"]["labels"]["app.kubernetes.io/version"] == workloads(stack)["imageTag"]
    spec = template["spec"]
    # No migrations in the pods (the seed ran them in every replica at once): the schema Job runs them first.
    assert spec.get("initContainers", []) == []
    [api] = spec["containers"]
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
    # Pulumi's StorageClass, which the rendered claim names.
    scratch = obj(plan, "StorageClass", "gp3-scratch", None)
    assert scratch["reclaimPolicy"] == "Delete", "a per-pod claim must not leave a volume behind per pod"
    assert scratch["parameters"]["encrypted"] == "true" and scratch["parameters"]["type"] == "gp3"
    assert {"name": "uploads", "mountPath": "/app/uploads"} in api["volumeMounts"]


@pytest.mark.parametrize("stack", STACKS)
def test_websocket_and_worker_follow_the_seed(stack: str) -> None:
    release, want = release_for(stack), workloads(stack)
    [api] = pod(release, "philosophy-api")["containers"]
    settings = {k: v for k, v in container_env(api).items() if k != "OTEL_SERVICE_NAME"}
    ws = release_object(release, "Deployment", "philosophy-websocket")
    assert ws["spec"]["replicas"] == want["websocket"]["replicas"]
    [container] = ws["spec"]["template"]["spec"]["containers"]
    assert container["ports"] == [{"name": "ws", "containerPort": 3001}]
    # The service's settings, the same as the api's, and the websocket's own.
    assert container_env(container) == {
        **settings,
        "STICKY_SESSIONS": "true",
        "REDIS_ADAPTER": "true",
        "OTEL_SERVICE_NAME": "philosophy-websocket",
    }
    assert container["resources"] == {"requests": want["websocket"]["requests"], "limits": want["websocket"]["limits"]}

    worker = release_object(release, "Deployment", "claude-worker")
    assert worker["spec"]["replicas"] == want["worker"]["replicas"]
    spec = worker["spec"]["template"]["spec"]
    group = stack_yaml(stack)["config"]["philosophy-infra:nodeGroups"][want["worker"]["nodeGroup"]]
    assert spec["nodeSelector"] == group["labels"] and spec["nodeSelector"]["Workload"] == "ai-processing"
    assert "workload" not in spec["nodeSelector"], "label keys are case-sensitive; the nodes carry `Workload`"
    assert spec["tolerations"] == [{"key": "ai-workload", "operator": "Equal", "value": "true", "effect": "NoSchedule"}]
    env = container_env(spec["containers"][0])
    assert env["WORKER_CONCURRENCY"] == str(want["worker"]["concurrency"]) == "3"
    assert env["CLAUDE_RATE_LIMIT"] == str(want["worker"]["rateLimit"]) == "50"
    assert env == {
        **settings,
        "WORKER_CONCURRENCY": env["WORKER_CONCURRENCY"],
        "CLAUDE_RATE_LIMIT": env["CLAUDE_RATE_LIMIT"],
        "OTEL_SERVICE_NAME": "claude-worker",
    }
    assert spec["containers"][0]["resources"] == {
        "requests": want["worker"]["requests"],
        "limits": want["worker"]["limits"],
    }


def test_prod_runs_the_seeds_replicas_and_sizes() -> None:
    want = workloads("prod")
    # The seed's 3 api replicas are the HPA's floor: the count is the HPA's alone.
    assert "replicas" not in want["api"]
    assert (want["api"]["minReplicas"], want["websocket"]["replicas"], want["worker"]["replicas"]) == (3, 2, 5)
    assert want["api"]["requests"] == {"cpu": "250m", "memory": "512Mi"}
    assert want["worker"]["limits"] == {"cpu": "2000m", "memory": "2Gi"}
    release = release_for("prod")
    assert release_object(release, "HorizontalPodAutoscaler", "philosophy-api-hpa")["spec"]["minReplicas"] == 3
    assert [workload(release, n)["spec"]["replicas"] for n in ("philosophy-websocket", "claude-worker")] == [2, 5]


@pytest.mark.parametrize("stack", STACKS)
def test_every_container_is_hardened_pinned_and_sized(stack: str, request: pytest.FixtureRequest) -> None:
    plan, release = stack_plan(request, stack), release_for(stack)
    pods = pod_templates(plan, release)
    # The schema Job and the search setup Job (Pulumi's), the api, the websocket and the worker (Argo CD's).
    assert len(pods) == 5
    assert sorted(name for namespace, name, _ in pods if namespace == NS) == sorted(WORKLOADS)
    for _, _, spec in pods:
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
    for name in WORKLOADS:
        spread = pod(release, name)["topologySpreadConstraints"]
        assert {s["topologyKey"] for s in spread} == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
        [container] = pod(release, name)["containers"]
        assert container["image"].endswith(":" + workloads(stack)["imageTag"])
        # A pinned tag of an immutable repository: a node's cached copy is the same image.
        assert container["imagePullPolicy"] == "IfNotPresent"


def test_services_and_service_accounts(prod_plan: Plan) -> None:
    release = release_for("prod")
    api = release_object(release, "Service", "philosophy-api")["spec"]
    # Istio reads the protocol from the port's name.
    assert {p["name"]: p["port"] for p in api["ports"]} == {"http": 3000, "http-metrics": 9090}
    ws = release_object(release, "Service", "philosophy-websocket")["spec"]
    assert [p["port"] for p in ws["ports"]] == [3001] and ws["ports"][0]["name"].startswith("http")
    # Stickiness is the mesh's, on a cookie: ClientIP affinity would see only the gateway's address.
    assert "sessionAffinity" not in ws
    rule = release_object(release, "DestinationRule", "philosophy-websocket")["spec"]
    assert rule["host"] == "philosophy-websocket.philosophy-app.svc.cluster.local"
    assert rule["trafficPolicy"]["loadBalancer"]["consistentHash"]["httpCookie"]["name"]
    for name, service in (("philosophy-api", api), ("philosophy-websocket", ws)):
        labels = workload(release, name)["spec"]["template"]["metadata"]["labels"]
        assert service["selector"].items() <= labels.items(), name
        assert {p["targetPort"] for p in service["ports"]} <= {
            p["name"] for p in pod(release, name)["containers"][0]["ports"]
        }
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
        "repository-reader",
        "neo4j-secrets-reader",
        "neo4j-backup",
    }
    assert all(a["automountServiceAccountToken"] is False for a in accounts.values())
    irsa = {n for n, a in accounts.items() if "eks.amazonaws.com/role-arn" in (a["metadata"].get("annotations") or {})}
    assert irsa == set(accounts) - {"philosophy-websocket"}, "the websocket has none"
    # Each rendered workload runs as Pulumi's account of its name, the one its IRSA role trusts.
    for name in WORKLOADS:
        assert pod(release, name)["serviceAccountName"] == name
        assert accounts[name]["metadata"]["namespace"] == NS


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


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, f"not evaluated here: {selector}"
    return bool(selector.get("matchLabels", {}).items() <= labels.items())


def admitted(
    spec: dict[str, Any],
    port: int,
    address: str,
    *,
    namespace: str | None = None,
    labels: dict[str, str] | None = None,
) -> bool:
    """Whether a NetworkPolicy (of the app namespace) admits a source on a port, by its ingress rules: a pod
    (its namespace and labels, and its address: with the VPC CNI a VPC address) or, without a namespace, an
    address that is no pod's (a load balancer, a node). A rule without ports admits every port; without
    sources, every source."""
    ip = ipaddress.ip_address(address)
    for rule in spec.get("ingress", []):
        ports = rule.get("ports") or []
        if ports and port not in {p["port"] for p in ports}:
            continue
        peers = rule.get("from") or []
        if not peers:
            return True
        for peer in peers:
            if "ipBlock" in peer:
                block = peer["ipBlock"]
                if ip in ipaddress.ip_network(block["cidr"]) and not any(
                    ip in ipaddress.ip_network(e) for e in block.get("except", [])
                ):
                    return True
            elif namespace is not None:
                in_namespace = (
                    selects(peer["namespaceSelector"], {"kubernetes.io/metadata.name": namespace})
                    if "namespaceSelector" in peer
                    else namespace == NS
                )
                if in_namespace and selects(peer.get("podSelector", {}), labels or {}):
                    return True
    return False


def test_the_admission_check_reads_ports_sources_and_blocks() -> None:
    """The helper itself: a wide rule is caught, so the test below can fail."""
    anything: dict[str, Any] = {"ingress": [{}]}
    assert admitted(anything, 3000, "10.0.1.10") and admitted(anything, 3000, "10.0.1.10", namespace="default")
    vpc: dict[str, Any] = {"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/16"}}], "ports": [{"port": 3000}]}]}
    assert admitted(vpc, 3000, "10.0.1.10", namespace="default", labels={"app": "x"})
    assert not admitted(vpc, 3001, "10.0.1.10")
    every_namespace: dict[str, Any] = {"ingress": [{"from": [{"namespaceSelector": {}}]}]}
    assert admitted(every_namespace, 3000, "10.0.1.10", namespace="default")
    assert not admitted(every_namespace, 3000, "10.0.101.10")
    same_namespace: dict[str, Any] = {"ingress": [{"from": [{"podSelector": {}}]}]}
    assert admitted(same_namespace, 3000, "10.0.1.10", namespace=NS)
    assert not admitted(same_namespace, 3000, "10.0.1.10", namespace="default")


def reached(policies: list[dict[str, Any]], port: int, address: str, **source: Any) -> bool:
    """Whether any of the policies that select a pod admits the source (NetworkPolicies add up)."""
    return any(admitted(p, port, address, **source) for p in policies)


@pytest.mark.parametrize("stack", STACKS)
def test_only_the_ingress_gateway_reaches_the_api_and_websocket_never_other_pods_or_addresses(
    stack: str, request: pytest.FixtureRequest
) -> None:
    """The load balancers reach the gateway, the gateway the pods (with strict mutual TLS, a client outside the
    mesh could not talk to these ports anyway); "from the VPC" would admit every pod of every namespace."""
    plan = stack_plan(request, stack)
    policies = {
        o["metadata"]["name"]: o["spec"]
        for o in objects(plan)
        if o["kind"] == "NetworkPolicy" and o["metadata"]["namespace"] == NS
    }
    network = stack_yaml(stack)["config"]["philosophy-infra:network"]
    pod_address = str(ipaddress.ip_network(network["privateSubnets"][0])[10])
    gateway: dict[str, Any] = {"namespace": "istio-ingress", "labels": {"app": "istio-ingress", "istio": "ingress"}}
    # The gateway's namespace is Pulumi's (the mesh's), so the name the policies select is one it controls.
    assert obj(plan, "Namespace", "istio-ingress", None)
    for workload_name, port in (("philosophy-api", 3000), ("philosophy-websocket", 3001)):
        # The policies that select these pods: their own, and the namespace-wide ones.
        selecting = [policies[workload_name], *(p for p in policies.values() if p["podSelector"] == {})]
        assert policies[workload_name]["podSelector"] == {"matchLabels": {"app": workload_name}}
        assert reached(selecting, port, pod_address, **gateway), workload_name
        others = [
            (NS, {"app": "claude-worker"}),
            (NS, {"app": "philosophy-websocket" if workload_name == "philosophy-api" else "philosophy-api"}),
            ("monitoring", {"app.kubernetes.io/name": "prometheus"}),
            ("tracing", {"app.kubernetes.io/name": "opentelemetry-collector"}),
            ("argocd", {"app.kubernetes.io/name": "argocd-server"}),
            ("default", {"run": "curl"}),
        ]
        for namespace, labels in others:
            assert not reached(selecting, port, pod_address, namespace=namespace, labels=labels), (
                workload_name,
                namespace,
                labels,
            )
        for tier in ("publicSubnets", "privateSubnets", "databaseSubnets"):
            for cidr in network[tier]:
                # A load balancer's address (public subnets), a node, anything in the data tier: refused.
                address = str(ipaddress.ip_network(cidr)[10])
                assert not reached(selecting, port, address), (workload_name, tier, cidr)
    # Prometheus scrapes the api's metrics port, and nothing else of these two.
    prometheus: dict[str, Any] = {"namespace": "monitoring", "labels": {"app.kubernetes.io/name": "prometheus"}}
    assert admitted(policies["philosophy-api"], 9090, pod_address, **prometheus)
    assert not admitted(policies["philosophy-api"], 9090, pod_address, **gateway)
    assert not admitted(policies["philosophy-websocket"], 9090, pod_address, **prometheus)


@pytest.mark.parametrize("stack", STACKS)
def test_api_autoscales_as_the_seed_says(stack: str) -> None:
    release, want = release_for(stack), workloads(stack)["api"]
    hpa = release_object(release, "HorizontalPodAutoscaler", "philosophy-api-hpa")
    assert hpa["apiVersion"] == "autoscaling/v2"
    spec = hpa["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "philosophy-api"}
    assert (spec["minReplicas"], spec["maxReplicas"]) == (want["minReplicas"], want["maxReplicas"])
    # The api container's use only: a pod's average would include the Istio sidecar's.
    assert [m["type"] for m in spec["metrics"]] == ["ContainerResource", "ContainerResource"]
    targets = {
        (m["containerResource"]["container"], m["containerResource"]["name"]): m["containerResource"]["target"]
        for m in spec["metrics"]
    }
    assert targets == {
        ("api", "cpu"): {"type": "Utilization", "averageUtilization": 70},
        ("api", "memory"): {"type": "Utilization", "averageUtilization": 80},
    }, "custom metrics stay off until an adapter serves them"
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


def test_only_the_autoscaled_workload_leaves_its_replicas_to_the_hpa(prod_plan: Plan) -> None:
    """Argo CD would reset a count written in the Rollout to what the HPA scaled away from."""
    release = release_for("prod")
    counted = {name: "replicas" in workload(release, name)["spec"] for name in WORKLOADS}
    assert counted == {"philosophy-api": False, "philosophy-websocket": True, "claude-worker": True}
    scaled = [o["spec"]["scaleTargetRef"]["name"] for o in release if o["kind"] == "HorizontalPodAutoscaler"]
    assert scaled == ["philosophy-api"]
    # And Pulumi keeps no copy of a workload of the service: two reconcilers would fight over it.
    workload_types = ("kubernetes:apps/v1:Deployment", "kubernetes:argoproj.io/v1alpha1:Rollout")
    assert not [r.name for r in prod_plan.resources if r.type in workload_types]


def test_prod_api_scales_between_3_and_20() -> None:
    assert (workloads("prod")["api"]["minReplicas"], workloads("prod")["api"]["maxReplicas"]) == (3, 20)


def test_custom_metrics_switch_adds_the_seeds_rps_and_queue_depth() -> None:
    raw = raw_config("staging", KUBERNETES)
    raw["philosophy-kubernetes:workloads"]["customMetrics"] = "adapter"
    metrics = release_object(release_for("staging", raw), "HorizontalPodAutoscaler", "philosophy-api-hpa")
    by_type: dict[str, list[dict[str, Any]]] = {}
    for m in metrics["spec"]["metrics"]:
        by_type.setdefault(m["type"], []).append(m)
    assert sorted(by_type) == ["ContainerResource", "External", "Pods"]
    [pods], [external] = by_type["Pods"], by_type["External"]
    assert pods["pods"]["metric"]["name"] == "http_requests_per_second"
    assert pods["pods"]["target"] == {"type": "AverageValue", "averageValue": "1000"}
    assert external["external"]["metric"]["selector"] == {"matchLabels": {"queue_name": "ai-generation"}}


def test_vpa_recommends_without_fighting_the_hpa(prod_plan: Plan) -> None:
    vpa = release_object(release_for("prod"), "VerticalPodAutoscaler", "philosophy-api-vpa")
    assert vpa["apiVersion"] == "autoscaling.k8s.io/v1"
    assert vpa["spec"]["targetRef"] == {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "name": "philosophy-api",
    }
    assert vpa["spec"]["updatePolicy"] == {"updateMode": "Off"}
    [policy] = vpa["spec"]["resourcePolicy"]["containerPolicies"]
    assert policy["containerName"] == "api"
    assert policy["minAllowed"] == {"cpu": "100m", "memory": "128Mi"} and policy["maxAllowed"] == {
        "cpu": "2",
        "memory": "2Gi",
    }
    release = prod_plan.one("kubernetes:helm.sh/v3:Release", "services-vpa")
    assert release.inputs["values"]["recommender"] == {"enabled": True}
    assert release.inputs["values"]["updater"] == {"enabled": False}
    # Argo CD syncs the VPA once its CRD (the release) and the namespace exist: the Application comes after both.
    application = prod_plan.one("kubernetes:argoproj.io/v1alpha1:Application")
    namespace = prod_plan.one("kubernetes:core/v1:Namespace", "app-namespace")
    assert release.urn in application.dependencies and namespace.urn in application.dependencies
    assert prod_plan.one("aws:eks/addon:Addon", "addons-metrics-server").inputs["addonName"] == "metrics-server"


def test_every_workload_has_a_disruption_budget() -> None:
    release = release_for("prod")
    budgets = {o["metadata"]["name"]: o["spec"] for o in release if o["kind"] == "PodDisruptionBudget"}
    assert set(budgets) == set(WORKLOADS)
    assert all(b["maxUnavailable"] == 1 and b["selector"]["matchLabels"]["app"] == n for n, b in budgets.items())
    for name, budget in budgets.items():
        labels = workload(release, name)["spec"]["template"]["metadata"]["labels"]
        assert budget["selector"]["matchLabels"].items() <= labels.items(), name


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
    # The api starts after it: Argo CD's Application, which syncs the api, comes after the Job.
    job_resource = prod_plan.one("kubernetes:batch/v1:Job", "schema-job")
    assert job_resource.urn in prod_plan.one("kubernetes:argoproj.io/v1alpha1:Application").dependencies
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
    checked = set()
    for _, name, spec in pod_templates(stack_plan(request, stack), release_for(stack)):
        for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
            for env in container.get("env") or []:
                value = env.get("value")
                if isinstance(value, str):
                    assert kubernetes_env_value(value) == value, (name, env["name"])
                    checked.add(name)
    assert set(WORKLOADS) <= checked


def test_the_app_logs_in_with_iam_and_verifies_the_server(prod_plan: Plan) -> None:
    release = release_for("prod")
    endpoints = obj(prod_plan, "ConfigMap", "app-endpoints")["data"]
    assert "@" in endpoints["DATABASE_URL"] and ":" not in endpoints["DATABASE_URL"].split("@")[0].removeprefix(
        "postgresql://"
    ), "no password in the URL"
    assert endpoints["DATABASE_URL"].startswith("postgresql://philosophy_app@")
    assert endpoints["DATABASE_URL"].endswith("?sslmode=verify-full&sslrootcert=/etc/rds-ca/ca.pem")
    for deployment in ("philosophy-api", "claude-worker"):
        spec = pod(release, deployment)
        env = container_env(spec["containers"][0])
        assert (env["DB_USER"], env["DB_AUTH"], env["PGSSLMODE"]) == ("philosophy_app", "iam", "verify-full")
        assert env["PGSSLROOTCERT"] == "/etc/rds-ca/ca.pem"
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
    """Pulumi's ExternalSecrets and ConfigMaps, read by its Jobs and by Argo CD's pods: every name resolves in
    the pod's own namespace."""
    provided: dict[tuple[str, str], set[str]] = {}
    config_maps = set()
    for o in objects(prod_plan):
        namespace = o["metadata"].get("namespace", "")
        if o["kind"] == "ExternalSecret":
            target = o["spec"]["target"]
            keys = set((target.get("template") or {}).get("data") or {}) or {d["secretKey"] for d in o["spec"]["data"]}
            provided[namespace, target["name"]] = keys
        elif o["kind"] == "ConfigMap":
            config_maps.add((namespace, o["metadata"]["name"]))
    read = set()
    for namespace, name, spec in pod_templates(prod_plan, release_for("prod")):
        for volume in spec.get("volumes", []):
            if "configMap" in volume:
                assert (namespace, volume["configMap"]["name"]) in config_maps, (name, volume)
        for c in [*spec.get("initContainers", []), *spec["containers"]]:
            for source in c.get("envFrom", []):
                if "secretRef" in source:
                    assert (namespace, source["secretRef"]["name"]) in provided, (name, c["name"], source)
                    read.add((name, source["secretRef"]["name"]))
                if "configMapRef" in source:
                    assert (namespace, source["configMapRef"]["name"]) in config_maps, (name, c["name"], source)
            for env in c.get("env", []):
                ref = (env.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in provided[namespace, ref["name"]], (c["name"], ref)
    # What each of the service's workloads reads: the worker alone the LLM key, the api and websocket the JWT's.
    assert {(n, s) for n, s in read if n in WORKLOADS} == {
        ("philosophy-api", "cache-credentials"),
        ("philosophy-api", "app-secrets"),
        ("philosophy-websocket", "cache-credentials"),
        ("philosophy-websocket", "app-secrets"),
        ("claude-worker", "cache-credentials"),
        ("claude-worker", "llm-credentials"),
        # The graph's clients, not the websocket.
        ("philosophy-api", "graph-credentials"),
        ("claude-worker", "graph-credentials"),
    }


def test_the_api_starts_after_the_schema_job_and_pods_restart_when_a_setting_changes(prod_plan: Plan) -> None:
    job = prod_plan.one("kubernetes:batch/v1:Job", "schema-job")
    assert job.urn in prod_plan.one("kubernetes:argoproj.io/v1alpha1:Application").dependencies
    # The settings are in the pod templates: a changed setting is a new template, so the pods are replaced
    # (the api's through its canary), with nothing else changed.
    before = release_for("prod")
    assert {container_env(pod(before, n)["containers"][0])["LOG_LEVEL"] for n in WORKLOADS} == {"info"}
    raw = raw_config("prod", KUBERNETES)
    raw["philosophy-kubernetes:workloads"]["logLevel"] = "debug"
    after = release_for("prod", raw)
    for name in WORKLOADS:
        old, new = workload(before, name)["spec"]["template"], workload(after, name)["spec"]["template"]
        assert new != old, name
        [container] = new["spec"]["containers"]
        assert container_env(container)["LOG_LEVEL"] == "debug"
        restored = json.loads(json.dumps(new).replace('"value": "debug"', '"value": "info"'))
        assert restored == old, name


def test_images_can_be_pinned_by_digest_per_image() -> None:
    digest = "sha256:" + "ab" * 32
    raw = raw_config("staging", KUBERNETES)
    raw["philosophy-kubernetes:workloads"]["imageDigests"] = {"api": digest}
    plan = run_stack("staging", kubernetes_config=encode(raw))
    release = release_for("staging", raw)
    tag = workloads("staging")["imageTag"]
    api = pod(release, "philosophy-api")["containers"][0]["image"]
    assert api.endswith(f"/api:{tag}@{digest}")
    # The schema Job's migrations run the very same api image.
    job = next(o for o in objects(plan) if is_schema_job(o))
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == api
    # The others keep their tag alone.
    assert pod(release, "philosophy-websocket")["containers"][0]["image"].endswith(f"/websocket:{tag}")
    assert pod(release, "claude-worker")["containers"][0]["image"].endswith(f"/claude-worker:{tag}")


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
