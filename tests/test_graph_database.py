"""The graph store (issue 15): Neo4j's config (both layers), its AWS side (password, backups, roles: GraphStore)
and its Kubernetes side (GraphDatabase: the charts' values, Pod Security, NetworkPolicies, Service, budget), each
built alone on the mock runtime, and both stacks' plans (Community in staging, Enterprise in prod)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from components.aws.data.graph_store import VOLUME_TAG_KEY, GraphStore, GraphStoreArgs
from components.kubernetes.app import graph_database as gd
from components.kubernetes.app.graph_database import GraphDatabase, GraphDatabaseArgs
from philosophy_infra.config.base import DataProtection
from philosophy_infra.config.neo4j import Neo4jConfig, Neo4jEdition, Neo4jServersConfig
from philosophy_infra.plan import Plan
from philosophy_infra.service import APP_NAMESPACE
from tests.chart_values import unknown_keys
from tests.conftest import KUBERNETES, ROOT, TEST_ROLE_LIMITS, raw_config, run, stack_plan
from tests.test_gitops_platform import restricted_violations
from tests.test_plan import cli_in_process

DATA = Path(__file__).parent / "data" / "charts"
ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
PROVIDER_ARN = f"arn:aws:iam::123456789012:oidc-provider/{ISSUER}"
SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:philosophy-test/neo4j-password-AbCdEf"
ROLE_ARN = "arn:aws:iam::123456789012:role/philosophy-infra/test/neo4j-secrets-reader"
BACKUP_ROLE_ARN = "arn:aws:iam::123456789012:role/philosophy-infra/test/neo4j-backup"
PLACEMENT = {"nodeSelector": {"Type": "general"}, "tolerations": []}
RELEASE = "kubernetes:helm.sh/v3:Release"
STACKS = ("staging", "prod")


# The keys the program sets that the vendored 5.17 values.yaml has no line for, each with why the pinned chart reads
# it. Nothing else may be missing (unknown_chart_keys), and each of these must still be set (a stale entry fails).
NOT_IN_VENDORED_VALUES = {
    "neo4j": {
        "neo4j.minimumClusterSize": "in 5.17's values.yaml as a comment only (`#  minimumClusterSize: 1`), read by "
        "its templates (Enterprise only)",
    },
    "neo4j-admin": {
        "containerSecurityContext": "newer charts than 5.17 only (upstream's TestNeo4jBackupContainerSecurityContext)",
        "tempVolume": "in 5.17's values.yaml as a comment only (`#tempVolume:`), read by its CronJob template",
    },
}
# Where each comment-only key is documented in the vendored file, as a line of it.
COMMENTED = {"neo4j.minimumClusterSize": "#  minimumClusterSize: 1", "tempVolume": "#tempVolume:"}


def missing_chart_keys(values: dict[str, Any], chart: str) -> list[str]:
    """Keys the vendored chart values do not have, except under maps whose keys are free-form in these charts:
    `config` (neo4j.conf settings) and `podLabels`."""
    return [
        key
        for key in unknown_keys(values, chart_defaults(chart))
        if not key.startswith(("config.", "neo4j.podLabels."))
    ]


def unknown_chart_keys(values: dict[str, Any], chart: str) -> list[str]:
    """Keys the chart does not have: missing from the vendored values and not listed in NOT_IN_VENDORED_VALUES."""
    return [key for key in missing_chart_keys(values, chart) if key not in NOT_IN_VENDORED_VALUES[chart]]


@cache
def chart_defaults(chart: str) -> Any:
    return yaml.safe_load((DATA / f"{chart}-5.17.0-values.yaml").read_text())


# --- Config ------------------------------------------------------------------------------------------------------


def test_enterprise_needs_the_licence_accepted_in_config() -> None:
    [issue] = Neo4jConfig(edition=Neo4jEdition.ENTERPRISE).issues()
    assert issue.key == "neo4j.acceptLicenseAgreement" and "licence agreement" in issue.rule
    assert not list(Neo4jConfig(edition=Neo4jEdition.ENTERPRISE, accept_license_agreement=True).issues())
    # Community needs none.
    assert not list(Neo4jConfig().issues())


def test_a_stack_that_asks_for_enterprise_without_the_licence_plans_nothing(tmp_path: Path) -> None:
    """The CLI: exit 2, one line naming the key, the value and the rule, before any resource."""
    stack = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    stack["config"]["philosophy-infra:neo4j"]["acceptLicenseAgreement"] = False
    for item in ("Pulumi.yaml", "__main__.py"):
        (tmp_path / item).symlink_to(ROOT / item)
    (tmp_path / "components").symlink_to(ROOT / "components")
    (tmp_path / "Pulumi.nolicence.yaml").write_text(yaml.safe_dump(stack))
    result = cli_in_process("plan", "--stack", "nolicence", "--layer", "aws", "--project-dir", str(tmp_path))
    assert result.returncode == 2, result.stderr
    assert "philosophy-infra:neo4j.acceptLicenseAgreement" in result.stderr and "licence" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


@given(
    memory=st.integers(min_value=256, max_value=65536),
    heap=st.integers(min_value=64, max_value=32768),
    page_cache=st.integers(min_value=64, max_value=32768),
)
def test_heap_and_page_cache_leave_a_gibibyte_for_the_jvm_and_the_os(memory: int, heap: int, page_cache: int) -> None:
    servers = Neo4jServersConfig(memory=f"{memory}Mi", heap=f"{heap}Mi", page_cache=f"{page_cache}Mi")
    keys = [issue.key for issue in servers.issues()]
    assert keys == (["neo4jServers.memory"] if memory - heap - page_cache < 1024 else [])


def test_sizes_are_checked_and_written_as_neo4j_reads_them() -> None:
    servers = Neo4jServersConfig(memory="4Gi", heap="1536Mi", page_cache="1536Mi")
    assert (servers.neo4j_size("heap"), servers.neo4j_size("page_cache")) == ("1536m", "1536m")
    bad = Neo4jServersConfig(memory="lots", heap="1.5Ki", page_cache="512Mi")
    assert {issue.key for issue in bad.issues()} == {"neo4jServers.memory", "neo4jServers.heap"}


# --- AWS layer: GraphStore -----------------------------------------------------------------------------------------


def graph_store(edition: Neo4jEdition, protection: DataProtection = DataProtection.PROTECTED) -> Plan:
    settings = Neo4jConfig(edition=edition, accept_license_agreement=True, backup_retention_days=30)

    def program() -> None:
        GraphStore(
            "graph-store",
            GraphStoreArgs(
                role_limits=TEST_ROLE_LIMITS,
                name_prefix="philosophy-test",
                settings=settings,
                oidc_provider_arn=PROVIDER_ARN,
                oidc_issuer=ISSUER,
                region="eu-west-1",
                data_protection=protection,
            ),
        )

    return run(program)


def trust_subject(plan: Plan, role_name: str) -> str:
    trust = json.loads(plan.one("aws:iam/role:Role", role_name).inputs["assumeRolePolicy"])
    [statement] = trust["Statement"]
    return str(statement["Condition"]["StringEquals"][f"{ISSUER}:sub"])


def test_the_password_is_generated_into_secrets_manager_under_its_own_key_and_read_by_one_account() -> None:
    plan = graph_store(Neo4jEdition.COMMUNITY)
    password = plan.one("random:index/randomPassword:RandomPassword")
    assert password.inputs["length"] >= 32 and password.inputs["special"] is False
    secret = plan.one("aws:secretsmanager/secret:Secret")
    assert secret.inputs["name"] == "philosophy-test/neo4j-password"
    assert plan.one("aws:secretsmanager/secretVersion:SecretVersion").inputs["secretString"] == "[secret]"
    keys = plan.of_type("aws:kms/key:Key")
    assert [k.name for k in keys] == ["graph-store-secrets-encryption-key"]
    assert secret.inputs["kmsKeyId"].startswith(
        "arn:aws:kms:eu-west-1:123456789012:key/graph-store-secrets-encryption-key"
    )
    assert trust_subject(plan, "graph-store-neo4j-secrets-reader-role") == (
        "system:serviceaccount:neo4j:neo4j-secrets-reader"
    )
    policy = json.loads(plan.one("aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    read = next(s for s in policy["Statement"] if s["Sid"] == "ReadTheServiceSecrets")
    [readable] = read["Resource"]
    assert "neo4j-password" in readable or secret.name in readable


def test_community_backups_are_the_volumes_snapshots_which_the_tag_hands_to_aws_backup() -> None:
    """Community has no online backup and no bucket: its volumes carry the tag AWS Backup's graph plan selects
    (test_recovery checks the plan's side), and nothing else snapshots them."""
    plan = graph_store(Neo4jEdition.COMMUNITY)
    assert not plan.of_type("aws:s3/bucket:Bucket")
    assert not plan.of_type("aws:dlm/lifecyclePolicy:LifecyclePolicy")
    assert [r.name for r in plan.of_type("aws:iam/role:Role")] == ["graph-store-neo4j-secrets-reader-role"]


@pytest.mark.parametrize("protection", list(DataProtection))
def test_enterprise_backups_go_to_an_encrypted_bucket_of_their_own_that_the_job_cannot_empty(
    protection: DataProtection,
) -> None:
    plan = graph_store(Neo4jEdition.ENTERPRISE, protection)
    assert not plan.of_type("aws:dlm/lifecyclePolicy:LifecyclePolicy")
    bucket = plan.one("aws:s3/bucket:Bucket")
    assert bucket.protect is (protection is DataProtection.PROTECTED) and bucket.inputs["forceDestroy"] is False
    encryption = plan.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    default = encryption.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    assert default["sseAlgorithm"] == "aws:kms"
    assert default["kmsMasterKeyId"].startswith(
        "arn:aws:kms:eu-west-1:123456789012:key/graph-store-backups-encryption-key"
    )
    bucket_policy = json.loads(plan.one("aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    assert {s["Sid"] for s in bucket_policy["Statement"]} == {"DenyInsecureTransport", "DenyTlsBelow12"}
    rules = {
        r["id"]: r for r in plan.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs["rules"]
    }
    # The retention plus the day that keeps every younger backup's chain to its full backup.
    assert rules["expire-backups"]["expiration"] == {"days": 31}
    # An overwritten backup (the job may write, not delete) stays as long as the backups do.
    assert rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"] == {"noncurrentDays": 31}
    assert trust_subject(plan, "graph-store-neo4j-backup-role") == "system:serviceaccount:neo4j-backup:neo4j-backup"
    writer = next(
        json.loads(p.inputs["policy"])
        for p in plan.of_type("aws:iam/rolePolicy:RolePolicy")
        if "neo4j-backup" in p.name
    )
    actions = {a for s in writer["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert "s3:PutObject" in actions and not {a for a in actions if "Delete" in a or a.endswith("*")}
    kms = next(s for s in writer["Statement"] if s["Sid"] == "EncryptThroughS3")
    assert kms["Condition"] == {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}


# --- Kubernetes layer: GraphDatabase -------------------------------------------------------------------------------


def graph_database(edition: Neo4jEdition, *, protected: bool = True) -> Plan:
    enterprise = edition is Neo4jEdition.ENTERPRISE

    def program() -> None:
        import pulumi_kubernetes as k8s

        GraphDatabase(
            "graph",
            GraphDatabaseArgs(
                provider=k8s.Provider("cluster", kubeconfig="{}"),
                kubernetes_version="1.35",
                region="eu-west-1",
                edition=edition,
                settings=Neo4jServersConfig(memory="4Gi", heap="1536Mi", page_cache="1536Mi", volume_gib=100),
                placement=PLACEMENT,
                password_secret_arn=SECRET_ARN,
                secret_reader_role_arn=ROLE_ARN,
                volume_tags={VOLUME_TAG_KEY: "philosophy-test-neo4j"},
                vpc_cidr="10.0.0.0/16",
                protected=protected,
                backup_bucket_name="philosophy-test-neo4j-backups" if enterprise else None,
                backup_role_arn=BACKUP_ROLE_ARN if enterprise else None,
            ),
        )

    return run(program)


@cache
def database(edition: Neo4jEdition) -> Plan:
    return graph_database(edition)


def releases(plan: Plan, chart: str) -> list[dict[str, Any]]:
    return [r.inputs for r in plan.of_type(RELEASE) if r.inputs["chart"] == chart]


@pytest.mark.parametrize("edition", list(Neo4jEdition))
def test_the_servers_are_the_pinned_chart_with_values_the_chart_has(edition: Neo4jEdition) -> None:
    servers = releases(database(edition), "neo4j")
    assert [r["name"] for r in servers] == [f"neo4j-{i}" for i in range(1, len(servers) + 1)]
    assert len(servers) == (3 if edition is Neo4jEdition.ENTERPRISE else 1)
    for release in servers:
        assert (release["version"], release["repositoryOpts"]["repo"]) == ("2026.7.1", "https://helm.neo4j.com/neo4j")
        assert release["namespace"] == "neo4j"
        values = release["values"]
        assert unknown_chart_keys(values, "neo4j") == []
        # No password in the values: the chart reads the Secret External Secrets writes.
        assert values["neo4j"]["passwordFromSecret"] == "neo4j-auth" and "password" not in values["neo4j"]
        assert values["logInitialPassword"] is False
        # The chart's LoadBalancer Service would be public by default.
        assert values["services"]["neo4j"] == {"enabled": False}
        assert values["config"]["server.memory.heap.max_size"] == "1536m"
        assert values["config"]["server.memory.pagecache.size"] == "1536m"
        assert values["volumes"]["data"]["dynamic"]["storageClassName"] == "neo4j"
        assert values["volumes"]["data"]["dynamic"]["requests"] == {"storage": "100Gi"}
        assert values["nodeSelector"] == PLACEMENT["nodeSelector"]
        # The chart writes internal settings a newer image may not know: Neo4j's default (warn, not refuse) stays.
        assert "server.config.strict_validation.enabled" not in values["config"]


def test_the_keys_missing_from_the_vendored_chart_values_are_exactly_the_listed_ones() -> None:
    """Each listed key is set by the program (Enterprise sets them all), and each one said to be documented as a
    comment is a comment line of the vendored file."""
    plan = database(Neo4jEdition.ENTERPRISE)
    for chart, allowed in NOT_IN_VENDORED_VALUES.items():
        missing = {key for release in releases(plan, chart) for key in missing_chart_keys(release["values"], chart)}
        assert missing == set(allowed), chart
        text = (DATA / f"{chart}-5.17.0-values.yaml").read_text().splitlines()
        for key in allowed:
            if key in COMMENTED:
                assert COMMENTED[key] in text, key
                assert "comment" in allowed[key]
            else:
                assert "newer charts" in allowed[key]
    # A newer chart's key is not in 5.17's file at all, not even as a comment.
    assert "containerSecurityContext" not in (DATA / "neo4j-admin-5.17.0-values.yaml").read_text()


def test_helm_waits_half_an_hour_for_a_server_and_its_default_for_everything_else() -> None:
    """A first install creates the volume, pulls the image and forms the cluster; other releases keep their inputs
    (no `timeout` at all, so no update)."""
    plan = database(Neo4jEdition.ENTERPRISE)
    assert [r["timeout"] for r in releases(plan, "neo4j")] == [1800, 1800, 1800]
    assert [r.get("timeout") for r in releases(plan, "neo4j-admin")] == [None, None]


def test_pinned_release_sets_a_timeout_only_when_given_one() -> None:
    from components.kubernetes.platform.helm import pinned_release

    def program() -> None:
        import pulumi
        import pulumi_kubernetes as k8s

        opts = pulumi.ResourceOptions(provider=k8s.Provider("cluster", kubeconfig="{}"))
        chart = ("example", "1.0.0", "https://charts.example.com")
        pinned_release("plain", chart, "example", {}, opts)
        pinned_release("slow", chart, "example", {}, opts, release_name="slow", timeout=600)

    plan = run(program)
    assert "timeout" not in plan.one(RELEASE, "plain").inputs
    assert plan.one(RELEASE, "slow").inputs["timeout"] == 600


def test_only_enterprise_clusters_accepts_the_licence_and_spreads_over_the_zones() -> None:
    [community] = releases(database(Neo4jEdition.COMMUNITY), "neo4j")
    assert community["values"]["neo4j"]["edition"] == "community"
    assert "acceptLicenseAgreement" not in community["values"]["neo4j"]
    assert "topologySpreadConstraints" not in community["values"]["podSpec"]
    for release in releases(database(Neo4jEdition.ENTERPRISE), "neo4j"):
        neo4j = release["values"]["neo4j"]
        assert (neo4j["edition"], neo4j["acceptLicenseAgreement"], neo4j["minimumClusterSize"]) == (
            "enterprise",
            "yes",
            3,
        )
        [spread] = release["values"]["podSpec"]["topologySpreadConstraints"]
        assert (spread["topologyKey"], spread["whenUnsatisfiable"]) == ("topology.kubernetes.io/zone", "DoNotSchedule")
        assert spread["labelSelector"] == {"matchLabels": {"helm.neo4j.com/neo4j.name": "neo4j"}}


def namespace_labels(plan: Plan, name: str) -> dict[str, Any]:
    return next(
        ns.inputs["metadata"]
        for ns in plan.of_type("kubernetes:core/v1:Namespace")
        if ns.inputs["metadata"]["name"] == name
    )


def test_the_servers_and_the_backup_job_are_given_restricted_and_only_the_job_namespace_enforces_baseline() -> None:
    plan = database(Neo4jEdition.ENTERPRISE)
    for chart in ("neo4j", "neo4j-admin"):
        for release in releases(plan, chart):
            values = release["values"]
            assert restricted_violations(values["securityContext"], values["containerSecurityContext"]) == [], chart
    servers = namespace_labels(plan, "neo4j")["labels"]
    assert servers["pod-security.kubernetes.io/enforce"] == "restricted"
    assert servers["istio-injection"] == "enabled"
    # The backup job's contexts pass `restricted`, but the 5.17 chart renders no container context and the pinned
    # one is unverified: `baseline` is enforced, `restricted` warned about and audited, and the reason says how
    # to move on.
    backup = namespace_labels(plan, "neo4j-backup")
    labels = backup["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
    assert labels["pod-security.kubernetes.io/enforce-version"] == "v1.35"
    assert (labels["pod-security.kubernetes.io/warn"], labels["pod-security.kubernetes.io/audit"]) == (
        "restricted",
        "restricted",
    )
    reason = backup["annotations"]["guardrails.philosophy/pod-security-exemption"]
    assert reason == gd.BACKUP_NAMESPACE_REASON
    for words in ("5.17", "containerSecurityContext", "kubectl -n neo4j-backup get cronjob -o yaml", "restricted"):
        assert words in reason, words
    # Community runs no backup job, so no namespace below `restricted`.
    assert [ns.inputs["metadata"]["name"] for ns in database(Neo4jEdition.COMMUNITY).of_type(
        "kubernetes:core/v1:Namespace")] == ["neo4j"]  # fmt: skip


def test_enterprise_backs_up_hourly_and_nightly_with_a_consistency_check_as_its_irsa_account() -> None:
    plan = database(Neo4jEdition.ENTERPRISE)
    backups = {r["name"]: r for r in releases(plan, "neo4j-admin")}
    assert set(backups) == {"neo4j-backup-hourly", "neo4j-backup-nightly"}
    schedules = {}
    for name, release in backups.items():
        values = release["values"]
        assert release["namespace"] == "neo4j-backup" and release["version"] == "2026.7.1"
        assert unknown_chart_keys(values, "neo4j-admin") == []
        backup = values["backup"]
        assert (backup["cloudProvider"], backup["bucketName"]) == ("aws", "philosophy-test-neo4j-backups")
        # Any ready server, through the component's Service (`neo4j-admin.neo4j.svc.cluster.local:6362`).
        assert (backup["databaseAdminServiceName"], backup["databaseNamespace"]) == ("neo4j-admin", "neo4j")
        assert not backup.get("databaseAdminServiceIP") and not backup.get("databaseBackupPort")
        assert backup["database"] == "neo4j,system"
        # The 5.17 template's `| default true` turns false into true: setting it would say what does not happen.
        assert "keepBackupFiles" not in backup
        # No static keys: the account's IRSA role, never a credentials Secret.
        assert values["serviceAccountName"] == "neo4j-backup" and not backup.get("secretName")
        assert values["consistencyCheck"]["enable"] is True
        schedules[name] = (values["neo4j"]["jobSchedule"], backup["type"])
    assert schedules == {"neo4j-backup-hourly": ("0 * * * *", "AUTO"), "neo4j-backup-nightly": ("30 2 * * *", "FULL")}
    account = next(
        a.inputs
        for a in plan.of_type("kubernetes:core/v1:ServiceAccount")
        if a.inputs["metadata"]["name"] == "neo4j-backup"
    )
    assert account["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": BACKUP_ROLE_ARN}
    assert not releases(database(Neo4jEdition.COMMUNITY), "neo4j-admin")


def test_the_backup_alerts_watch_the_namespace_and_the_cronjob_the_hourly_release_makes() -> None:
    """The chart names its CronJob after the release (no name override): `neo4j-backup-hourly`, the RPO's."""
    rules = yaml.safe_load((ROOT / "monitoring" / "rules" / "philosophy.rules.yaml").read_text())
    expressions = {r["alert"]: r["expr"] for group in rules["groups"] for r in group["rules"] if "alert" in r}
    hourly = next(
        r
        for r in releases(database(Neo4jEdition.ENTERPRISE), "neo4j-admin")
        if r["values"]["neo4j"]["jobSchedule"] == "0 * * * *"
    )
    assert "nameOverride" not in hourly["values"] and "fullnameOverride" not in hourly["values"]
    stale = expressions["Neo4jBackupStale"]
    assert f'namespace="{hourly["namespace"]}", cronjob="{hourly["name"]}"' in stale and "> 7200" in stale
    assert f'namespace="{hourly["namespace"]}"' in expressions["Neo4jBackupFailed"]


def test_backups_stage_on_an_ephemeral_volume_as_large_as_a_server_not_the_pods_ephemeral_storage() -> None:
    """The chart's emptyDir counts against its 5 GiB ephemeral-storage limit: a large store's backup would be
    evicted. A generic ephemeral volume of the scratch class (deleted with the pod) the size of a server's volume."""
    for release in releases(database(Neo4jEdition.ENTERPRISE), "neo4j-admin"):
        values = release["values"]
        assert values["tempVolume"] == {
            "ephemeral": {
                "volumeClaimTemplate": {
                    "spec": {
                        "storageClassName": "gp3-scratch",
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "100Gi"}},
                    }
                }
            }
        }
        # A finished Job keeps its pod, and so its volume: one of each kind, not the chart's three.
        assert (values["neo4j"]["successfulJobsHistoryLimit"], values["neo4j"]["failedJobsHistoryLimit"]) == (1, 1)


def services(plan: Plan) -> dict[str, dict[str, Any]]:
    return {s.inputs["metadata"]["name"]: s.inputs for s in plan.of_type("kubernetes:core/v1:Service")}


def test_backups_reach_any_ready_server_through_a_service_of_the_backup_port_only_in_enterprise() -> None:
    admin = services(database(Neo4jEdition.ENTERPRISE))["neo4j-admin"]
    assert admin["metadata"]["namespace"] == "neo4j"
    spec = admin["spec"]
    assert spec["type"] == "ClusterIP"
    # Every server of the cluster (not one release's), and only the ready ones.
    assert spec["selector"] == {"helm.neo4j.com/neo4j.name": "neo4j"} == gd.SERVER_LABELS
    assert spec["publishNotReadyAddresses"] is False
    assert spec["ports"] == [{"name": "tcp-backup", "port": 6362, "targetPort": 6362}]
    assert set(services(database(Neo4jEdition.COMMUNITY))) == {"neo4j"}


@pytest.mark.parametrize("protected", [True, False])
def test_the_volumes_are_encrypted_gp3_tagged_for_snapshots_and_retained_where_protected(protected: bool) -> None:
    plan = graph_database(Neo4jEdition.COMMUNITY, protected=protected)
    storage = plan.one("kubernetes:storage.k8s.io/v1:StorageClass").inputs
    assert storage["metadata"]["name"] == "neo4j"
    assert storage["parameters"] == {
        "type": "gp3",
        "encrypted": "true",
        "csi.storage.k8s.io/fstype": "ext4",
        "tagSpecification_1": f"{VOLUME_TAG_KEY}=philosophy-test-neo4j",
    }
    assert storage["reclaimPolicy"] == ("Retain" if protected else "Delete")


def test_the_password_reaches_neo4j_as_neo4j_auth_through_external_secrets() -> None:
    plan = database(Neo4jEdition.COMMUNITY)
    [secret] = [r.inputs for r in plan.of_type("kubernetes:external-secrets.io/v1:ExternalSecret")]
    assert secret["metadata"] == {
        "name": "neo4j-auth",
        "namespace": "neo4j",
        "annotations": {"pulumi.com/waitFor": "condition=Ready"},
    }
    assert secret["spec"]["data"] == [
        {"secretKey": "password", "remoteRef": {"key": SECRET_ARN, "property": "password"}}
    ]
    assert secret["spec"]["target"]["template"]["data"] == {"NEO4J_AUTH": "neo4j/{{ .password }}"}


@pytest.mark.parametrize("edition", list(Neo4jEdition))
def test_one_bolt_only_service_and_one_budget_span_the_servers(edition: Neo4jEdition) -> None:
    plan = database(edition)
    service = services(plan)["neo4j"]
    assert service["metadata"]["name"] == "neo4j" and service["spec"]["type"] == "ClusterIP"
    assert [p["port"] for p in service["spec"]["ports"]] == [7687]
    assert service["spec"]["selector"]["helm.neo4j.com/neo4j.name"] == "neo4j"
    budget = plan.one("kubernetes:policy/v1:PodDisruptionBudget").inputs["spec"]
    assert budget["selector"] == {"matchLabels": {"helm.neo4j.com/neo4j.name": "neo4j"}}
    # One server: no voluntary eviction; three: one at a time, the quorum holds.
    assert budget == {
        **budget,
        **({"maxUnavailable": 1} if edition is Neo4jEdition.ENTERPRISE else {"minAvailable": 1}),
    }
    for release in releases(plan, "neo4j"):
        assert release["values"]["podDisruptionBudget"] == {"enabled": False}


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In", expression
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def reaches(policies: list[dict[str, Any]], port: int, source_namespace: str, source_labels: dict[str, str]) -> bool:
    """Whether the NetworkPolicies of the `neo4j` namespace that select a server admit a pod on a port."""
    server = {"helm.neo4j.com/neo4j.name": "neo4j", "app": "neo4j"}
    for policy in policies:
        if not _selects(policy["podSelector"], server):
            continue
        for rule in policy.get("ingress", []):
            if port not in {p["port"] for p in rule.get("ports", [])}:
                continue
            for peer in rule["from"]:
                namespace = peer.get("namespaceSelector")
                in_namespace = (
                    _selects(namespace, {"kubernetes.io/metadata.name": source_namespace})
                    if namespace is not None
                    else source_namespace == "neo4j"
                )
                if in_namespace and _selects(peer.get("podSelector", {}), source_labels):
                    return True
    return False


@pytest.mark.parametrize("edition", list(Neo4jEdition))
def test_bolt_only_from_the_services_graph_clients_backups_only_from_the_job_http_never_from_outside(
    edition: Neo4jEdition,
) -> None:
    plan = database(edition)
    policies = [
        p.inputs["spec"]
        for p in plan.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
        if p.inputs["metadata"]["namespace"] == "neo4j"
    ]
    assert {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]} in policies
    for app in ("philosophy-api", "claude-worker"):
        assert reaches(policies, 7687, APP_NAMESPACE, {"app": app})
    refused = [
        (APP_NAMESPACE, {"app": "philosophy-websocket"}),
        ("monitoring", {"app.kubernetes.io/name": "prometheus"}),
        ("default", {"app": "philosophy-api"}),
        ("neo4j-backup", {"app.kubernetes.io/name": "neo4j-backup"}),
    ]
    for namespace, labels in refused:
        assert not reaches(policies, 7687, namespace, labels), (namespace, labels)
    for namespace, labels in [(APP_NAMESPACE, {"app": "philosophy-api"}), ("monitoring", {})]:
        assert not reaches(policies, 7474, namespace, labels), "HTTP from outside the namespace"
    assert reaches(policies, 7474, "neo4j", {"run": "cypher-shell"})
    backup_job = ("neo4j-backup", dict(gd.BACKUP_POD_LABELS))
    assert reaches(policies, 6362, *backup_job) is (edition is Neo4jEdition.ENTERPRISE)
    assert not reaches(policies, 6362, APP_NAMESPACE, {"app": "philosophy-api"})


SERVERS_PEER = "neo4j/helm.neo4j.com/neo4j.name=neo4j"
DNS = {("kube-system/k8s-app=kube-dns", "UDP", 53), ("kube-system/k8s-app=kube-dns", "TCP", 53)}
ISTIOD = {("istio-system/*", "TCP", 15012)}


def _peer(peer: dict[str, Any], home: str) -> str:
    """`namespace/labels` of a pod peer (`*`: any), or `cidr <block>`."""
    if "ipBlock" in peer:
        assert set(peer) == {"ipBlock"} and "except" not in peer["ipBlock"], peer
        return f"cidr {peer['ipBlock']['cidr']}"
    namespace = home
    if "namespaceSelector" in peer:
        namespace = peer["namespaceSelector"].get("matchLabels", {}).get("kubernetes.io/metadata.name", "*")
    pod_selector = peer.get("podSelector", {})
    assert "matchExpressions" not in pod_selector, peer
    pods = ",".join(f"{k}={v}" for k, v in sorted(pod_selector.get("matchLabels", {}).items()))
    return f"{namespace}/{pods or '*'}"


def egress_grants(policies: list[dict[str, Any]], home: str, labels: dict[str, str]) -> set[tuple[str, str, int]]:
    """Every (peer, protocol, port) the NetworkPolicies of namespace `home` let a pod with `labels` open. Each rule
    names its peers and its ports (no rule allows everything)."""
    grants = set()
    for policy in policies:
        if "Egress" not in policy["policyTypes"] or not _selects(policy["podSelector"], labels):
            continue
        for rule in policy.get("egress", []):
            assert rule.get("to") and rule.get("ports"), rule
            for peer in rule["to"]:
                for port in rule["ports"]:
                    grants.add((_peer(peer, home), port.get("protocol", "TCP"), port["port"]))
    return grants


def namespace_policies(plan: Plan, namespace: str) -> list[dict[str, Any]]:
    return [
        p.inputs["spec"]
        for p in plan.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
        if p.inputs["metadata"]["namespace"] == namespace
    ]


@pytest.mark.parametrize("edition", list(Neo4jEdition))
def test_only_a_clusters_servers_reach_each_other_and_the_kubernetes_api(edition: Neo4jEdition) -> None:
    server = {"helm.neo4j.com/neo4j.name": "neo4j", "app": "neo4j"}
    grants = egress_grants(namespace_policies(database(edition), "neo4j"), "neo4j", server)
    cluster = {(SERVERS_PEER, "TCP", port) for port in (5000, 6000, 7000, 7688, 7687, 6362)}
    # Discovery lists the servers' Services from the API server's private endpoints, in the VPC.
    api_server = {("cidr 10.0.0.0/16", "TCP", 443)}
    if edition is Neo4jEdition.ENTERPRISE:
        assert grants == DNS | ISTIOD | cluster | api_server
    else:
        assert grants == DNS | ISTIOD
    # Other pods in the namespace (a debugging pod) get the namespace's defaults only.
    assert egress_grants(namespace_policies(database(edition), "neo4j"), "neo4j", {"run": "debug"}) == DNS | ISTIOD


def test_the_backup_job_reaches_the_servers_backup_port_and_https_and_nothing_else() -> None:
    policies = namespace_policies(database(Neo4jEdition.ENTERPRISE), "neo4j-backup")
    grants = egress_grants(policies, "neo4j-backup", dict(gd.BACKUP_POD_LABELS))
    # S3 and STS are HTTPS on the internet (or through NAT): no narrower block names them.
    assert grants == DNS | ISTIOD | {(SERVERS_PEER, "TCP", 6362), ("cidr 0.0.0.0/0", "TCP", 443)}
    # Nothing reaches it.
    job_ingress = [
        rule
        for policy in policies
        if "Ingress" in policy["policyTypes"] and _selects(policy["podSelector"], dict(gd.BACKUP_POD_LABELS))
        for rule in policy.get("ingress", [])
    ]
    assert all({p["port"] for p in rule["ports"]} <= {15020, 15090} for rule in job_ingress)


# --- Both stacks ---------------------------------------------------------------------------------------------------


def objects(plan: Plan) -> list[dict[str, Any]]:
    from tests.test_workloads import objects as all_objects

    return all_objects(plan)


@pytest.mark.parametrize("stack", STACKS)
def test_each_stack_runs_its_edition_and_the_service_knows_where_the_graph_is(
    stack: str, request: pytest.FixtureRequest
) -> None:
    plan = stack_plan(request, stack)
    aws, kubernetes = plan.layer("aws"), plan.layer("kubernetes")
    enterprise = stack == "prod"
    # Enterprise's backups are its own bucket's; Community's, its volumes' snapshots (AWS Backup, test_recovery).
    assert bool([b for b in aws.of_type("aws:s3/bucket:Bucket") if b.name == "graph-store-backups"]) is enterprise
    assert len([r for r in kubernetes.of_type(RELEASE) if r.inputs["chart"] == "neo4j"]) == (3 if enterprise else 1)
    endpoints = next(
        o for o in objects(kubernetes) if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "app-endpoints"
    )
    assert endpoints["data"]["NEO4J_URI"] == "neo4j://neo4j.neo4j.svc:7687"


@pytest.mark.parametrize("stack", STACKS)
def test_the_api_and_the_worker_reach_bolt_on_the_servers_and_the_websocket_does_not(
    stack: str, request: pytest.FixtureRequest
) -> None:
    kubernetes = stack_plan(request, stack).layer("kubernetes")
    app_policies = {
        o["metadata"]["name"]: o["spec"]
        for o in objects(kubernetes)
        if o["kind"] == "NetworkPolicy" and o["metadata"]["namespace"] == APP_NAMESPACE
    }
    for app, reaches_graph in (("philosophy-api", True), ("claude-worker", True), ("philosophy-websocket", False)):
        grants = egress_grants(list(app_policies.values()), APP_NAMESPACE, {"app": app})
        # Bolt to the servers, by the label the servers carry (GraphDatabase's), and to nothing else.
        assert {g for g in grants if g[2] == 7687} == ({(SERVERS_PEER, "TCP", 7687)} if reaches_graph else set()), app
        bolt = [r for r in app_policies[app]["egress"] if {p["port"] for p in r["ports"]} == {7687}]
        for rule in bolt:
            [target] = rule["to"]
            assert _selects(target["podSelector"], {"helm.neo4j.com/neo4j.name": "neo4j", "app": "neo4j"})


def test_the_kubernetes_layer_sizes_come_from_its_config(request: pytest.FixtureRequest) -> None:
    raw = raw_config("staging", KUBERNETES)
    assert raw["philosophy-kubernetes:neo4jServers"]["memory"] == "2Gi"
    [server] = [
        r for r in stack_plan(request, "staging").layer("kubernetes").of_type(RELEASE) if r.inputs["chart"] == "neo4j"
    ]
    assert server.inputs["values"]["neo4j"]["resources"] == {"cpu": "500m", "memory": "2Gi"}
