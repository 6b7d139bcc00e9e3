"""The database and the cache, through mocks: every property the issue asks for, for both stacks.

Expected values come from each stack's YAML (the input), never from the components under test.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pytest

from components.aws.data.cache import Cache, CacheArgs
from components.aws.data.database import Database, DatabaseArgs
from philosophy_infra.config.base import DataProtection
from philosophy_infra.config.cache import CacheConfig
from philosophy_infra.config.database import DatabaseConfig
from philosophy_infra.plan import SECRET, Plan, RecordedResource
from philosophy_infra.stack_plan import StackPlan
from tests.conftest import ROOT, TEST_ROLE_LIMITS, encode, raw_config, run, run_stack, stack_plan, stack_yaml

STACKS = ["prod", "staging"]
INSTANCE = "aws:rds/instance:Instance"
RDS_PARAMS = "aws:rds/parameterGroup:ParameterGroup"
GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
CACHE_PARAMS = "aws:elasticache/parameterGroup:ParameterGroup"
SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
KEY = "aws:kms/key:Key"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


def section(stack: str, name: str) -> dict[str, Any]:
    config: dict[str, Any] = stack_yaml(stack)["config"][f"philosophy-infra:{name}"]
    return config


def data_key(plan: Plan, component: str) -> RecordedResource:
    return plan.one(KEY, f"{component}-encryption-key")


def uses_only_its_own_key(plan: Plan, resource: RecordedResource, component: str) -> None:
    """The resource waits on its own store's key and on no other store's."""
    other = {"database": "cache", "cache": "database"}[component]
    assert data_key(plan, component).urn in resource.dependencies
    assert data_key(plan, other).urn not in resource.dependencies


def only_ingress(plan: Plan, group: RecordedResource) -> RecordedResource:
    rules = [r for r in plan.of_type(INGRESS) if r.inputs["securityGroupId"] == group.id]
    assert len(rules) == 1, rules
    return rules[0]


# --- database --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_database_engine_size_and_availability_come_from_config(stack: str, request: pytest.FixtureRequest) -> None:
    plan, want = stack_plan(request, stack), section(stack, "database")
    db = plan.one(INSTANCE).inputs
    assert db["engine"] == "postgres" and db["engineVersion"] == want["engineVersion"]
    assert int(db["engineVersion"]) >= 17
    assert db["engineLifecycleSupport"] == "open-source-rds-extended-support-disabled"
    assert db["instanceClass"] == want["instanceClass"]
    assert db["storageType"] == "gp3" and "iops" not in db
    assert (db["allocatedStorage"], db["maxAllocatedStorage"]) == (
        want["allocatedStorageGib"],
        want["maxAllocatedStorageGib"],
    )
    assert db["multiAz"] is want["multiAz"]
    assert db["dbName"] == want["databaseName"] and db["identifier"] == f"philosophy-{stack}-postgres"


def test_prod_database_is_the_seeds_size() -> None:
    want = section("prod", "database")
    assert want["instanceClass"] == "db.r6g.xlarge" and want["multiAz"] is True
    assert (want["allocatedStorageGib"], want["maxAllocatedStorageGib"]) == (100, 1000)


@pytest.mark.parametrize("stack", STACKS)
def test_database_has_no_password_anywhere_and_is_private(stack: str, request: pytest.FixtureRequest) -> None:
    plan = stack_plan(request, stack)
    db = plan.one(INSTANCE)
    assert db.inputs["manageMasterUserPassword"] is True
    assert not {"password", "passwordWo", "passwordWoVersion"} & set(db.inputs)
    assert db.inputs["username"] == section(stack, "database")["masterUsername"]
    assert db.inputs["iamDatabaseAuthenticationEnabled"] is True
    assert db.inputs["publiclyAccessible"] is False
    assert db.inputs["dbSubnetGroupName"] == plan.outputs["dbSubnetGroupName"]
    key = db.inputs["kmsKeyId"]
    assert db.inputs["storageEncrypted"] is True and key.startswith("arn:aws:kms:eu-west-1:")
    assert db.inputs["masterUserSecretKmsKeyId"] == key and db.inputs["performanceInsightsKmsKeyId"] == key
    uses_only_its_own_key(plan, db, "database")
    assert data_key(plan, "database").inputs["enableKeyRotation"] is True


@pytest.mark.parametrize("stack", STACKS)
def test_database_admits_5432_from_the_node_security_group_only(stack: str, request: pytest.FixtureRequest) -> None:
    plan = stack_plan(request, stack)
    group = plan.one(SG, "database-sg")
    assert plan.one(INSTANCE).inputs["vpcSecurityGroupIds"] == [group.id]
    assert group.inputs["vpcId"] == plan.outputs["vpcId"]
    assert not {"ingress", "egress"} & set(group.inputs), "no inline rules: the provider removes AWS's egress"
    rule = only_ingress(plan, group)
    assert (rule.inputs["ipProtocol"], rule.inputs["fromPort"], rule.inputs["toPort"]) == ("tcp", 5432, 5432)
    assert rule.inputs["referencedSecurityGroupId"].startswith("sg-")
    assert not {"cidrIpv4", "cidrIpv6", "prefixListId"} & set(rule.inputs)
    assert plan.one("eks:index:Cluster").urn in rule.dependencies


def test_the_rule_names_exactly_the_node_security_group_it_is_given() -> None:
    plan = run(lambda: Database("db", database_args()))
    rule = only_ingress(plan, plan.one(SG, "db-sg"))
    assert rule.inputs["referencedSecurityGroupId"] == "sg-0nodes"


@pytest.mark.parametrize("stack", STACKS)
def test_database_backups_and_final_snapshot(stack: str, request: pytest.FixtureRequest) -> None:
    plan, want = stack_plan(request, stack), section(stack, "database")
    db = plan.one(INSTANCE)
    assert db.inputs["backupRetentionPeriod"] == want["backupRetentionDays"]
    assert db.inputs["backupWindow"] == want["backupWindow"] == "03:00-06:00"
    assert db.inputs["maintenanceWindow"] == want["maintenanceWindow"].lower() == "mon:00:00-mon:03:00"
    assert db.inputs["skipFinalSnapshot"] is False
    assert re.fullmatch(rf"philosophy-{stack}-postgres-final-[0-9a-f]{{8}}", db.inputs["finalSnapshotIdentifier"])
    suffix = plan.one("random:index/randomId:RandomId", "database-final-snapshot-suffix")
    assert suffix.urn in db.dependencies and suffix.inputs["keepers"]["kmsKeyId"] == db.inputs["kmsKeyId"]
    assert db.delete_before_replace, "a fixed identifier cannot be created before the old one is gone"
    assert db.inputs["copyTagsToSnapshot"] is True and db.inputs["deleteAutomatedBackups"] is False
    protected = stack == "prod"
    assert db.inputs["deletionProtection"] is protected and db.protect is protected
    assert db.inputs["applyImmediately"] is not protected


def test_prod_keeps_backups_30_days() -> None:
    assert section("prod", "database")["backupRetentionDays"] == 30


@pytest.mark.parametrize("stack", STACKS)
def test_database_logs_insights_and_enhanced_monitoring(stack: str, request: pytest.FixtureRequest) -> None:
    plan, want = stack_plan(request, stack), section(stack, "database")
    db = plan.one(INSTANCE)
    # What RDS for PostgreSQL can export (RDS API, EnableCloudwatchLogsExports): with IAM authentication on, a
    # refused login says why only in iam-db-auth-error.
    assert db.inputs["enabledCloudwatchLogsExports"] == ["postgresql", "upgrade", "iam-db-auth-error"]
    for kind in ("postgresql", "upgrade", "iam-db-auth-error"):
        group = plan.one(LOG_GROUP, f"database-log-{kind}")
        assert group.inputs["name"] == f"/aws/rds/instance/philosophy-{stack}-postgres/{kind}"
        assert group.inputs["retentionInDays"] == want["logRetentionDays"]
        assert group.inputs["kmsKeyId"] == db.inputs["kmsKeyId"]
        assert group.urn in db.dependencies, "the log group must exist before RDS creates its own"
    assert db.inputs["databaseInsightsMode"] == "standard" and db.inputs["performanceInsightsEnabled"] is True
    assert db.inputs["performanceInsightsRetentionPeriod"] == 7
    assert db.inputs["monitoringInterval"] == 60
    role = plan.one("aws:iam/role:Role", "database-monitoring")
    assert role.urn in db.dependencies and db.inputs["monitoringRoleArn"].startswith("arn:aws:iam::")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "monitoring.rds.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    attachment = plan.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "database-monitoring-policy")
    assert attachment.inputs["policyArn"] == "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
    assert attachment.urn in db.dependencies


def test_advanced_insights_keep_15_months() -> None:
    plan = run(lambda: Database("db", database_args(insights="advanced")))
    db = plan.one(INSTANCE).inputs
    assert db["databaseInsightsMode"] == "advanced" and db["performanceInsightsRetentionPeriod"] == 465


@pytest.mark.parametrize("stack", STACKS)
def test_parameter_group_matches_the_version_and_fixes_the_seed(stack: str, request: pytest.FixtureRequest) -> None:
    plan, want = stack_plan(request, stack), section(stack, "database")
    group = plan.one(RDS_PARAMS)
    assert group.inputs["family"] == f"postgres{want['engineVersion']}"
    assert group.urn in plan.one(INSTANCE).dependencies
    assert group.retain_on_delete, "the old family's group stays attached until the upgrade is applied"
    params = {p["name"]: p for p in group.inputs["parameters"]}
    assert params["log_statement"]["value"] == "ddl"
    assert params["log_min_duration_statement"]["value"] == str(want["slowQueryThresholdMs"])
    assert params["rds.force_ssl"]["value"] == "1"
    preload = params["shared_preload_libraries"]
    assert preload["value"].split(",") == ["pg_stat_statements"] and preload["applyMethod"] == "pending-reboot"
    assert "vector" not in json.dumps(group.inputs), "pgvector is created in the database, never preloaded"


def test_a_newer_major_version_gets_its_own_parameter_family() -> None:
    raw = raw_config("staging")
    raw["philosophy-infra:database"]["engineVersion"] = "18"
    plan = run_stack("staging", encode(raw))
    assert plan.one(INSTANCE).inputs["engineVersion"] == "18"
    assert plan.one(RDS_PARAMS).inputs["family"] == "postgres18"


# --- cache -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_cache_engine_shape_and_availability_come_from_config(stack: str, request: pytest.FixtureRequest) -> None:
    plan, want = stack_plan(request, stack), section(stack, "cache")
    group = plan.one(GROUP).inputs
    assert group["engine"] == want["engine"] == "valkey" and group["engineVersion"] == want["engineVersion"]
    assert group["nodeType"] == want["nodeType"]
    assert group["clusterMode"] == "enabled" and "numCacheClusters" not in group
    assert (group["numNodeGroups"], group["replicasPerNodeGroup"]) == (want["shards"], want["replicasPerShard"])
    assert group["automaticFailoverEnabled"] is want["automaticFailover"] is True
    assert group["multiAzEnabled"] is want["multiAz"]
    assert group["replicationGroupId"] == f"philosophy-{stack}-cache" and group["port"] == 6379
    params = plan.one(CACHE_PARAMS)
    assert params.inputs["family"] == "valkey8"
    assert params.inputs["parameters"] == [{"name": "cluster-enabled", "value": "yes"}]
    assert params.urn in plan.one(GROUP).dependencies and params.retain_on_delete


def test_prod_cache_is_three_shards_of_two_replicas() -> None:
    want = section("prod", "cache")
    assert (want["shards"], want["replicasPerShard"], want["nodeType"]) == (3, 2, "cache.r6g.large")
    assert want["multiAz"] is True


@pytest.mark.parametrize("stack", STACKS)
def test_cache_is_encrypted_and_authenticated_without_plain_text(stack: str, request: pytest.FixtureRequest) -> None:
    plan = stack_plan(request, stack)
    group = plan.one(GROUP)
    key = group.inputs["kmsKeyId"]
    assert group.inputs["atRestEncryptionEnabled"] is True and key.startswith("arn:aws:kms:eu-west-1:")
    uses_only_its_own_key(plan, group, "cache")
    assert group.inputs["transitEncryptionEnabled"] is True and group.inputs["transitEncryptionMode"] == "required"
    assert group.inputs["authToken"] == SECRET and group.inputs["authTokenUpdateStrategy"] == "ROTATE"
    token = plan.one("random:index/randomPassword:RandomPassword", "cache-auth-token")
    assert token.inputs["length"] >= 32 and token.inputs["special"] is False
    assert token.urn in group.dependencies
    secret = plan.one("aws:secretsmanager/secret:Secret", "cache-auth")
    assert secret.inputs["kmsKeyId"] == key
    version = plan.one("aws:secretsmanager/secretVersion:SecretVersion", "cache-auth-value")
    assert version.inputs == {"secretId": secret.id, "secretString": SECRET}
    assert plan.outputs["cacheAuthSecretArn"].startswith("arn:aws:secretsmanager:")


@pytest.mark.parametrize("stack", STACKS)
def test_cache_snapshots_logs_network_and_protection(stack: str, request: pytest.FixtureRequest) -> None:
    plan, want = stack_plan(request, stack), section(stack, "cache")
    group = plan.one(GROUP)
    assert group.inputs["snapshotRetentionLimit"] == want["snapshotRetentionDays"]
    assert group.inputs["snapshotWindow"] == want["snapshotWindow"] == "03:00-05:00"
    assert group.inputs["maintenanceWindow"] == want["maintenanceWindow"].lower()
    assert re.fullmatch(rf"philosophy-{stack}-cache-final-[0-9a-f]{{8}}", group.inputs["finalSnapshotIdentifier"])
    assert group.delete_before_replace
    deliveries = {d["logType"]: d for d in group.inputs["logDeliveryConfigurations"]}
    slow = plan.one(LOG_GROUP, "cache-slow-log")
    assert deliveries["slow-log"] == {
        "destination": slow.inputs["name"],
        "destinationType": "cloudwatch-logs",
        "logFormat": "json",
        "logType": "slow-log",
    }
    assert slow.inputs["name"] == f"/aws/elasticache/philosophy-{stack}-cache/slow-log"
    assert slow.inputs["retentionInDays"] == want["logRetentionDays"] and slow.urn in group.dependencies
    assert slow.inputs["kmsKeyId"] == group.inputs["kmsKeyId"]
    assert group.inputs["subnetGroupName"] == plan.outputs["cacheSubnetGroupName"]
    sg = plan.one(SG, "cache-sg")
    assert group.inputs["securityGroupIds"] == [sg.id]
    rule = only_ingress(plan, sg)
    assert (rule.inputs["fromPort"], rule.inputs["toPort"]) == (6379, 6379)
    assert not {"cidrIpv4", "cidrIpv6", "prefixListId"} & set(rule.inputs)
    assert group.protect is (stack == "prod") and group.inputs["applyImmediately"] is (stack != "prod")


def test_prod_keeps_cache_snapshots_5_days() -> None:
    assert section("prod", "cache")["snapshotRetentionDays"] == 5


def test_redis_oss_is_allowed() -> None:
    raw = raw_config("staging")
    raw["philosophy-infra:cache"].update({"engine": "redis", "engineVersion": "7.1"})
    plan = run_stack("staging", encode(raw))
    assert plan.one(GROUP).inputs["engine"] == "redis" and plan.one(GROUP).inputs["engineVersion"] == "7.1"
    assert plan.one(CACHE_PARAMS).inputs["family"] == "redis7"


def test_without_cluster_mode_one_shard_of_primary_and_replicas() -> None:
    raw = raw_config("staging")
    raw["philosophy-infra:cache"].update({"clusterMode": "disabled", "shards": 1, "replicasPerShard": 2})
    plan = run_stack("staging", encode(raw))
    group = plan.one(GROUP).inputs
    assert group["clusterMode"] == "disabled" and group["numCacheClusters"] == 3
    assert not {"numNodeGroups", "replicasPerNodeGroup"} & set(group)
    assert plan.one(CACHE_PARAMS).inputs["parameters"] == [{"name": "cluster-enabled", "value": "no"}]
    assert "cacheConfigurationEndpoint" not in plan.outputs
    assert plan.outputs["cachePrimaryEndpoint"].startswith("master.")


@pytest.mark.parametrize("group_id", ["x" * 41, "Philosophy-cache", "cache--prod", "cache-", "1cache"])
def test_replication_group_id_elasticache_would_refuse_is_refused_first(group_id: str) -> None:
    settings = CacheConfig.model_validate(section("staging", "cache"))
    args = CacheArgs(
        replication_group_id=group_id,
        settings=settings,
        vpc_id="vpc-1",
        subnet_group_name="cache",
        node_security_group_id="sg-0nodes",
    )
    with pytest.raises(ValueError, match="1-40 lowercase letters"):
        run(lambda: Cache("c", args))


# --- both --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_exports_give_workloads_what_they_need(stack: str, request: pytest.FixtureRequest) -> None:
    out = stack_plan(request, stack).outputs
    assert out["databaseEndpoint"].endswith(".rds.amazonaws.com") and out["databasePort"] == 5432
    assert out["databaseName"] == section(stack, "database")["databaseName"]
    assert out["databaseMasterSecretArn"].startswith("arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!")
    assert out["databaseResourceId"].startswith("db-")
    assert out["cacheConfigurationEndpoint"].startswith("clustercfg.") and out["cachePort"] == 6379


def test_staging_is_smaller_and_unprotected_but_still_snapshots(prod_plan: Plan, staging_plan: Plan) -> None:
    prod, staging = prod_plan.one(INSTANCE), staging_plan.one(INSTANCE)
    assert staging.inputs["multiAz"] is False and not staging.protect and not staging.inputs["deletionProtection"]
    assert staging.inputs["allocatedStorage"] < prod.inputs["allocatedStorage"]
    assert staging.inputs["skipFinalSnapshot"] is False
    cache_prod, cache_staging = prod_plan.one(GROUP).inputs, staging_plan.one(GROUP).inputs
    assert cache_staging["numNodeGroups"] * (1 + cache_staging["replicasPerNodeGroup"]) < cache_prod[
        "numNodeGroups"
    ] * (1 + cache_prod["replicasPerNodeGroup"])
    assert cache_staging["multiAzEnabled"] is False and "finalSnapshotIdentifier" in cache_staging


@pytest.mark.parametrize("stack", STACKS)
def test_keys_of_the_data_stores_outlive_them(stack: str, request: pytest.FixtureRequest) -> None:
    plan = stack_plan(request, stack)
    for component, prefix in (("database", "/aws/rds/instance/"), ("cache", "/aws/elasticache/")):
        key = data_key(plan, component)
        assert key.protect is (stack == "prod")
        assert key.retain_on_delete, "final snapshots are unreadable once their key is deleted"
        statements = {st["Sid"]: st for st in json.loads(key.inputs["policy"])["Statement"]}
        logs = statements["CloudWatchLogsEncryptsTheseLogGroups"]
        assert logs["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}
        arn = logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
        store = {"database": "postgres", "cache": "cache"}[component]
        assert arn == f"arn:aws:logs:eu-west-1:123456789012:log-group:{prefix}philosophy-{stack}-{store}/*"


def test_the_master_secret_arn_must_be_reported() -> None:
    from components.aws.data.database import _secret_arn

    with pytest.raises(ValueError, match="no master user secret"):
        _secret_arn([])


def test_no_secret_value_appears_in_the_plan_output() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "philosophy_infra", "plan", "--stack", "prod", "--json", "-"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    # The mocks' stand-in for the generated AUTH token has this shape; it must be masked everywhere.
    assert not re.search(r"offline-plan-[0-9a-f]{7}", result.stdout + result.stderr)
    plan = json.loads(result.stdout)
    group = next(r for r in plan["resources"] if r["type"] == GROUP)
    assert group["inputs"]["authToken"] == SECRET


def database_args(**overrides: Any) -> DatabaseArgs:
    settings = DatabaseConfig.model_validate({**section("staging", "database"), **overrides})
    return DatabaseArgs(
        identifier="t-postgres",
        role_limits=TEST_ROLE_LIMITS,
        settings=settings,
        vpc_id="vpc-1",
        db_subnet_group_name="db",
        node_security_group_id="sg-0nodes",
        data_protection=DataProtection.SNAPSHOT_ONLY,
    )


def test_app_secrets_names_are_unambiguous_and_their_recovery_window_fits_the_stack(
    prod_plan: StackPlan, staging_plan: StackPlan
) -> None:
    for plan, days in ((prod_plan, 30), (staging_plan, 7)):
        named = [s for s in plan.of_type("aws:secretsmanager/secret:Secret") if s.inputs.get("name")]
        assert {s.inputs["name"].split("/")[1] for s in named} == {
            "llm-api-key",
            "jwt-signing-key",
            "git-repository",
            "neo4j-password",
        }
        for secret in named:
            # Secrets Manager reads "-" and six characters at the end of a name as an ARN's random suffix.
            assert not re.search(r"-[A-Za-z0-9]{6}$", secret.inputs["name"]), secret.inputs["name"]
            # A snapshotOnly stack is re-created within days; its names must not stay taken for a month.
            assert secret.inputs["recoveryWindowInDays"] == days, secret.inputs["name"]
