"""Argo CD and Argo Rollouts (Kubernetes layer), each built alone on the mock runtime: the pinned charts, values
that exist in those charts (vendored values.yaml), replicas per availability, NetworkPolicies, Pod Security
`restricted` for every pod the charts run with these values, and the repository's credentials synced by External
Secrets (validated against the vendored ESO CRDs)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pulumi_kubernetes as k8s
import pytest
import yaml

from components.kubernetes.platform.argo_cd import ArgoCd, ArgoCdArgs
from components.kubernetes.platform.argo_rollouts import ArgoRollouts, ArgoRolloutsArgs
from philosophy_infra.config.delivery import Availability
from philosophy_infra.plan import Plan, RecordedResource
from tests.chart_values import unknown_keys
from tests.conftest import run
from tests.test_custom_resources import validator

CHARTS = Path(__file__).parent / "data" / "charts"
PLACEMENT = {
    "nodeSelector": {"philosophy.io/node-group": "platform"},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "platform", "effect": "NoSchedule"}],
}
REPO = "https://github.com/philosophy/philosophy-infra.git"
SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:philosophy/argocd-repository-AbCdEf"
ROLE_ARN = "arn:aws:iam::123456789012:role/philosophy/test/argocd-repository-reader"
RELEASE = "kubernetes:helm.sh/v3:Release"


def defaults(chart: str, version: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CHARTS / f"{chart}-{version}-values.yaml").read_text())
    return loaded


def argo_cd(availability: Availability) -> Plan:
    def program() -> None:
        provider = k8s.Provider("cluster", kubeconfig="{}")
        ArgoCd(
            "argocd",
            ArgoCdArgs(
                provider=provider,
                kubernetes_version="1.34",
                availability=availability,
                placement=PLACEMENT,
                repo_url=REPO,
                repository_secret_arn=SECRET_ARN,
                repository_reader_role_arn=ROLE_ARN,
                region="eu-west-1",
            ),
        )

    return run(program)


@pytest.fixture(scope="module", params=list(Availability))
def cd(request: pytest.FixtureRequest) -> tuple[Availability, Plan]:
    return request.param, argo_cd(request.param)


@pytest.fixture(scope="module")
def rollouts() -> Plan:
    def program() -> None:
        provider = k8s.Provider("cluster", kubeconfig="{}")
        ArgoRollouts(
            "argo-rollouts", ArgoRolloutsArgs(provider=provider, kubernetes_version="1.34", placement=PLACEMENT)
        )

    return run(program)


def release(plan: Plan) -> dict[str, Any]:
    [found] = plan.of_type(RELEASE)
    return found.inputs


def named(plan: Plan, type_suffix: str, name: str) -> RecordedResource:
    [found] = [r for r in plan.resources if r.type.endswith(type_suffix) and r.inputs["metadata"]["name"] == name]
    return found


def merged(base: Any, override: Any) -> Any:
    """Helm's coalescing of values: maps merge key by key, anything else replaces."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = merged(base.get(key), value)
        return out
    return copy.deepcopy(override)


def restricted_violations(pod: dict[str, Any] | None, container: dict[str, Any] | None) -> list[str]:
    """What Pod Security `restricted` refuses in one container of a pod (the checks a chart's security contexts
    decide; volumes, host namespaces and ports are the templates' and are checked by reading them)."""
    pod, container = pod or {}, container or {}

    def either(key: str) -> Any:
        return container[key] if container.get(key) is not None else pod.get(key)

    found = []
    if either("runAsNonRoot") is not True:
        found.append("runAsNonRoot")
    if either("runAsUser") == 0:
        found.append("runAsUser=0")
    if (either("seccompProfile") or {}).get("type") not in ("RuntimeDefault", "Localhost"):
        found.append("seccompProfile")
    if container.get("allowPrivilegeEscalation") is not False:
        found.append("allowPrivilegeEscalation")
    if container.get("privileged"):
        found.append("privileged")
    capabilities = container.get("capabilities") or {}
    if "ALL" not in (capabilities.get("drop") or []):
        found.append("capabilities.drop")
    if set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}:
        found.append("capabilities.add")
    return found


# --- Argo CD -------------------------------------------------------------------------------------------------


def test_argo_cd_is_the_pinned_chart_with_values_the_chart_has(cd: tuple[Availability, Plan]) -> None:
    _, plan = cd
    inputs = release(plan)
    assert (inputs["chart"], inputs["version"]) == ("argo-cd", "10.1.1")
    assert inputs["repositoryOpts"] == {"repo": "https://argoproj.github.io/argo-helm"}
    assert inputs["namespace"] == "argocd" and inputs["createNamespace"] is False
    values = inputs["values"]
    chart = defaults("argo-cd", inputs["version"])
    assert unknown_keys({k: v for k, v in values.items() if k != "redis-ha"}, chart) == []
    # `redis-ha.enabled` is the parent's condition; the rest goes to the subchart, at the version argo-cd names.
    subchart = values["redis-ha"]
    assert "enabled" in chart["redis-ha"]
    assert unknown_keys({k: v for k, v in subchart.items() if k != "enabled"}, defaults("redis-ha", "4.38.0")) == []


def test_the_redis_ha_subchart_vendored_is_the_one_argo_cd_depends_on() -> None:
    header = (CHARTS / "argo-cd-10.1.1-values.yaml").read_text().splitlines()[0]
    commit = header.split("argoproj/argo-helm@")[1].split(",")[0]
    assert len(commit) == 40
    subchart_header = (CHARTS / "redis-ha-4.38.0-values.yaml").read_text().splitlines()[0]
    assert "redis-ha chart 4.38.0" in subchart_header and "argo-cd 10.1.1" in subchart_header


def test_argo_cd_replicas_follow_the_availability(cd: tuple[Availability, Plan]) -> None:
    availability, plan = cd
    values = release(plan)["values"]
    chart = defaults("argo-cd", "10.1.1")
    effective = merged(chart, values)
    # One application controller either way: it shards by destination cluster, and there is one.
    assert effective["controller"]["replicas"] == 1
    # No ApplicationSet controller (the chart renders it always), no notifications, no commit server, no Dex.
    assert effective["applicationSet"]["replicas"] == 0
    assert not any(effective[c]["enabled"] for c in ("notifications", "commitServer", "dex"))
    if availability is Availability.HIGHLY_AVAILABLE:
        assert effective["server"]["replicas"] >= 2 and effective["repoServer"]["replicas"] >= 2
        assert effective["redis-ha"]["enabled"] is True
        for component in ("server", "repoServer"):
            assert effective[component]["pdb"]["enabled"] is True
            assert 1 <= effective[component]["pdb"]["minAvailable"] < effective[component]["replicas"]
        # The subchart's Redis and HAProxy land on the node group too (it takes no `global` of the parent's).
        assert values["redis-ha"]["nodeSelector"] == PLACEMENT["nodeSelector"]
        assert values["redis-ha"]["tolerations"] == PLACEMENT["tolerations"]
    else:
        assert effective["server"]["replicas"] == effective["repoServer"]["replicas"] == 1
        assert effective["redis-ha"]["enabled"] is False and effective["redis"]["enabled"] is True
        assert not effective["server"]["pdb"]["enabled"]


def test_argo_cd_is_reached_only_by_port_forward_and_placed_on_the_node_group(cd: tuple[Availability, Plan]) -> None:
    _, plan = cd
    values = release(plan)["values"]
    effective = merged(defaults("argo-cd", "10.1.1"), values)
    assert effective["server"]["service"]["type"] == "ClusterIP"
    assert not any(effective["server"][way]["enabled"] for way in ("ingress", "ingressGrpc", "httproute", "grpcroute"))
    assert effective["global"]["domain"].startswith("localhost:")
    assert values["global"]["nodeSelector"] == PLACEMENT["nodeSelector"]
    assert values["global"]["tolerations"] == PLACEMENT["tolerations"]
    for component in ("controller", "server", "repoServer", "redis", "redisSecretInit"):
        requests = values[component]["resources"]["requests"]
        assert set(requests) == {"cpu", "memory"}, component
        assert "memory" in values[component]["resources"]["limits"], component


def test_crds_are_installed_kept_and_marked_for_server_side_apply(cd: tuple[Availability, Plan]) -> None:
    _, plan = cd
    crds = merged(defaults("argo-cd", "10.1.1"), release(plan)["values"])["crds"]
    assert crds["install"] is True and crds["keep"] is True
    assert crds["annotations"] == {"argocd.argoproj.io/sync-options": "ServerSideApply=true"}


def test_no_admin_password_anywhere(cd: tuple[Availability, Plan]) -> None:
    _, plan = cd

    def keys(value: Any) -> list[str]:
        if isinstance(value, dict):
            return [k for k, v in value.items() for k in (k, *keys(v))]
        if isinstance(value, list):
            return [k for v in value for k in keys(v)]
        return []

    values = release(plan)["values"]
    assert not [k for k in keys(values) if "password" in k.lower()]
    # The chart's key for it is where the test looks; the server generates argocd-initial-admin-secret itself.
    assert "argocdServerAdminPassword" in defaults("argo-cd", "10.1.1")["configs"]["secret"]
    assert "argocdServerAdminPassword" not in json.dumps([r.inputs for r in plan.resources])


def test_network_policies_are_the_charts_with_default_deny_and_cover_redis_ha(cd: tuple[Availability, Plan]) -> None:
    availability, plan = cd
    inputs = release(plan)
    chart = defaults("argo-cd", "10.1.1")
    assert inputs["values"]["global"]["networkPolicy"] == {"create": True, "defaultDenyIngress": True}
    policies = {
        r.inputs["metadata"]["name"]: r.inputs for r in plan.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    }
    assert all(p["metadata"]["namespace"] == "argocd" for p in policies.values())
    if availability is Availability.SINGLE:
        # The chart's own policy admits Argo CD to its single Redis.
        assert policies == {}
        return
    subchart = defaults("redis-ha", "4.38.0")
    # The subchart's pod labels: `app` is its chart name (haproxy's with `-haproxy`), `release` the release name.
    redis = {"app": "redis-ha", "release": inputs["name"]}
    haproxy = {"app": "redis-ha-haproxy", "release": inputs["name"]}
    by_selector = {
        json.dumps(p["spec"]["podSelector"]["matchLabels"], sort_keys=True): p["spec"] for p in policies.values()
    }
    assert set(by_selector) == {json.dumps(redis, sort_keys=True), json.dumps(haproxy, sort_keys=True)}
    haproxy_rules = by_selector[json.dumps(haproxy, sort_keys=True)]["ingress"]
    # Argo CD's pods, by the `app.kubernetes.io/name` the chart gives them (`<nameOverride>-<name>`).
    argocd = {f"{chart['nameOverride']}-{chart[c]['name']}" for c in ("server", "repoServer", "controller")}
    [rule] = haproxy_rules
    assert {peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for peer in rule["from"]} == argocd
    assert rule["ports"] == [{"protocol": "TCP", "port": subchart["haproxy"]["containerPort"]}]
    [rule] = by_selector[json.dumps(redis, sort_keys=True)]["ingress"]
    assert [peer["podSelector"]["matchLabels"] for peer in rule["from"]] == [haproxy, redis]
    ports = {p["port"] for p in rule["ports"]}
    assert ports == {subchart["redis"]["port"], subchart["sentinel"]["port"]}
    # In place before the release starts the pods.
    for policy in plan.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy"):
        assert named(plan, ":Namespace", "argocd").urn in policy.dependencies


def test_every_argo_cd_pod_passes_pod_security_restricted(cd: tuple[Availability, Plan]) -> None:
    _, plan = cd
    namespace = named(plan, ":Namespace", "argocd").inputs["metadata"]["labels"]
    assert {namespace[f"pod-security.kubernetes.io/{m}"] for m in ("enforce", "audit", "warn")} == {"restricted"}
    assert namespace["pod-security.kubernetes.io/enforce-version"] == "v1.34"
    values = merged(defaults("argo-cd", "10.1.1"), release(plan)["values"])
    # (pod security context, container security contexts) of each pod, as the chart's templates read them
    # (argocd-*/deployment.yaml, statefulset.yaml: `global.securityContext` for the pod; redis/deployment.yaml;
    # redis-secret-init/job.yaml; init containers take their component's container context).
    optional = [c for c in ("dex", "notifications", "commitServer") if values[c]["enabled"]]
    pods: dict[str, tuple[Any, list[Any]]] = {
        c: (values["global"]["securityContext"], [values[c]["containerSecurityContext"]])
        for c in ("controller", "server", "repoServer", "applicationSet", *optional)
    }
    pods["redisSecretInit"] = (
        values["redisSecretInit"]["securityContext"],
        [values["redisSecretInit"]["containerSecurityContext"]],
    )
    if values["redis-ha"]["enabled"]:
        # The subchart's values: its defaults, then the parent's `redis-ha`, then ours (already in `values`).
        ha = merged(defaults("redis-ha", "4.38.0"), values["redis-ha"])
        # redis-ha-statefulset.yaml: every container and init container takes `containerSecurityContext`;
        # redis-haproxy-deployment.yaml: `haproxy.containerSecurityContext`.
        pods["redis-ha"] = (ha["securityContext"], [ha["containerSecurityContext"]])
        pods["haproxy"] = (ha["haproxy"]["securityContext"], [ha["haproxy"]["containerSecurityContext"]])
        assert not ha["persistentVolume"]["enabled"] and not ha["hostPath"]["path"] and not ha["sysctlImage"]["enabled"]
    else:
        containers = [values["redis"]["containerSecurityContext"]]
        if values["redis"]["exporter"]["enabled"]:
            containers.append(values["redis"]["exporter"]["containerSecurityContext"])
        pods["redis"] = (values["redis"]["securityContext"], containers)
    assert {"controller", "server", "repoServer", "redisSecretInit"} <= set(pods)
    for pod, (pod_context, containers) in pods.items():
        for container in containers:
            assert restricted_violations(pod_context, container) == [], pod


def test_the_checks_of_restricted_catch_a_root_or_privileged_container() -> None:
    good = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    container = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    assert restricted_violations(good, container) == []
    assert restricted_violations({}, container) == ["runAsNonRoot", "seccompProfile"]
    assert "runAsUser=0" in restricted_violations(good, {**container, "runAsUser": 0})
    assert "capabilities.add" in restricted_violations(
        good, {**container, "capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN"]}}
    )
    assert "allowPrivilegeEscalation" in restricted_violations(good, {"capabilities": {"drop": ["ALL"]}})


def test_repository_credentials_come_from_secrets_manager_as_a_labelled_repository_secret(
    cd: tuple[Availability, Plan],
) -> None:
    _, plan = cd
    secret = named(plan, ":ExternalSecret", "philosophy-repository").inputs
    store = named(plan, ":SecretStore", secret["spec"]["secretStoreRef"]["name"]).inputs
    account = named(plan, ":ServiceAccount", "repository-reader").inputs
    assert secret["metadata"]["namespace"] == store["metadata"]["namespace"] == "argocd"
    assert account["metadata"]["namespace"] == "argocd"
    # Signed in as the namespace's reader account, whose IRSA role reads the repository's secret only.
    assert store["spec"]["provider"]["aws"]["auth"] == {"jwt": {"serviceAccountRef": {"name": "repository-reader"}}}
    assert store["spec"]["provider"]["aws"]["region"] == "eu-west-1"
    assert account["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": ROLE_ARN}
    assert account["automountServiceAccountToken"] is False
    target = secret["spec"]["target"]
    assert target["name"] == "philosophy-repository"
    # Argo CD finds repositories by this label, in its own namespace.
    assert target["template"]["metadata"]["labels"] == {"argocd.argoproj.io/secret-type": "repository"}
    rendered = target["template"]["data"]
    assert rendered["type"] == "git" and rendered["url"] == REPO
    fields = ("githubAppID", "githubAppInstallationID", "githubAppPrivateKey")
    fetched = {d["secretKey"]: d["remoteRef"] for d in secret["spec"]["data"]}
    assert set(fetched) == set(fields) and set(rendered) == {"type", "url", *fields}
    for field in fields:
        assert fetched[field] == {"key": SECRET_ARN, "property": field}
        assert rendered[field] == f"{{{{ .{field} }}}}"
    # Nothing of the secret's value passes through the program.
    assert "BEGIN" not in json.dumps(secret)


def test_the_repository_secret_objects_validate_against_the_vendored_eso_crds(cd: tuple[Availability, Plan]) -> None:
    _, plan = cd
    for kind in ("ExternalSecret", "SecretStore"):
        [obj] = [r.inputs for r in plan.resources if r.type.endswith(f":{kind}")]
        group, _, version = obj["apiVersion"].rpartition("/")
        validator(group, kind, version).validate(obj)


def test_argo_cd_children_are_parented_to_the_component(cd: tuple[Availability, Plan]) -> None:
    _, plan = cd
    [component] = [r for r in plan.resources if r.type == "philosophy:index:ArgoCd"]
    children = [r for r in plan.resources if r.type.startswith("kubernetes:")]
    assert children and all(r.parent == component.urn and r.name.startswith("argocd-") for r in children)
    # The release waits for its namespace.
    assert named(plan, ":Namespace", "argocd").urn in plan.one(RELEASE).dependencies


# --- Argo Rollouts -------------------------------------------------------------------------------------------


def test_argo_rollouts_is_the_pinned_chart_with_values_the_chart_has(rollouts: Plan) -> None:
    inputs = release(rollouts)
    assert (inputs["chart"], inputs["version"]) == ("argo-rollouts", "2.41.0")
    assert inputs["repositoryOpts"] == {"repo": "https://argoproj.github.io/argo-helm"}
    assert inputs["namespace"] == "argo-rollouts" and inputs["createNamespace"] is False
    assert unknown_keys(inputs["values"], defaults("argo-rollouts", inputs["version"])) == []


def test_argo_rollouts_runs_two_leader_elected_controllers_and_no_dashboard(rollouts: Plan) -> None:
    values = release(rollouts)["values"]
    effective = merged(defaults("argo-rollouts", "2.41.0"), values)
    # The chart passes --leader-elect above one replica (templates/controller/deployment.yaml).
    assert effective["controller"]["replicas"] == 2
    assert effective["controller"]["pdb"]["enabled"] is True and effective["controller"]["pdb"]["minAvailable"] == 1
    assert effective["dashboard"]["enabled"] is False
    assert effective["installCRDs"] is True and effective["keepCRDs"] is True
    assert values["controller"]["nodeSelector"] == PLACEMENT["nodeSelector"]
    assert values["controller"]["tolerations"] == PLACEMENT["tolerations"]
    assert set(values["controller"]["resources"]["requests"]) == {"cpu", "memory"}


def test_prometheus_scrapes_the_rollouts_controller(rollouts: Plan) -> None:
    metrics = merged(defaults("argo-rollouts", "2.41.0"), release(rollouts)["values"])["controller"]["metrics"]
    # The ServiceMonitor is rendered only with both on (templates/controller/servicemonitor.yaml), without the
    # chart `release` label our Prometheus does not need.
    assert metrics["enabled"] is True and metrics["serviceMonitor"]["enabled"] is True
    assert "release" not in metrics["serviceMonitor"]["additionalLabels"]


def test_rollouts_rbac_covers_istio_only(rollouts: Plan) -> None:
    providers = release(rollouts)["values"]["providerRBAC"]["providers"]
    # Every router the chart knows is decided, so a new one in a chart upgrade shows up here.
    assert set(providers) == set(defaults("argo-rollouts", "2.41.0")["providerRBAC"]["providers"])
    assert {router for router, on in providers.items() if on} == {"istio"}


def test_the_rollouts_controller_passes_pod_security_restricted(rollouts: Plan) -> None:
    namespace = named(rollouts, ":Namespace", "argo-rollouts").inputs["metadata"]["labels"]
    assert namespace["pod-security.kubernetes.io/enforce"] == "restricted"
    assert namespace["pod-security.kubernetes.io/enforce-version"] == "v1.34"
    values = merged(defaults("argo-rollouts", "2.41.0"), release(rollouts)["values"])
    # templates/controller/deployment.yaml: `podSecurityContext` for the pod, `containerSecurityContext` for its
    # one container.
    assert restricted_violations(values["podSecurityContext"], values["containerSecurityContext"]) == []
    assert values["podSecurityContext"]["runAsUser"] == 999
    [component] = [r for r in rollouts.resources if r.type == "philosophy:index:ArgoRollouts"]
    assert release(rollouts) is not None and rollouts.one(RELEASE).parent == component.urn
