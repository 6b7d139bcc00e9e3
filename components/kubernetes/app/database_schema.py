"""The database's schema, owned by one Job in a namespace of its own: the pgvector extension, the application
user and its grants, then the service's migrations. It replaces the seed's migrations init container, which
ran `migrate:prod` in every api replica at once during a rollout.

The RDS master secret is read here and nowhere else: the `schema-admin` account (IRSA) is the only reader, and
the app namespace never has it. The api and the worker log in as the application user with IAM database
authentication (a token from their own IRSA roles, `rds-db:connect` on that one user), so no password of theirs
exists, and RDS rotating the master secret every 7 days breaks nothing.

Every client verifies the server: `sslmode=verify-full` against the region's RDS root CAs, vendored in
`rds_ca/` (scripts/vendor_rds_ca.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.platform.pod_security import DNS_EGRESS, restricted_namespace_labels
from components.kubernetes.platform.secrets_sync import external_secret, irsa_secret_store
from philosophy_infra.pods import (
    RDS_CA_FILE,
    RDS_CA_MOUNT,
    TMP_MOUNT,
    TMP_VOLUME,
    analysis_exemptions,
    container_security_context,
    pod_security_context,
)
from philosophy_infra.service import (
    DATABASE_APP_USER,
    DATABASE_MONITOR_USER,
    DATABASE_PORT,
    SCHEMA_ADMIN,
    SCHEMA_NAMESPACE,
)

POSTGRES_CLIENT_IMAGE = "public.ecr.aws/docker/library/postgres:17.6-alpine"
RDS_CA_DIR = Path(__file__).resolve().parent / "rds_ca"
ADMIN_SECRET = "database-admin"
MONITOR_VERIFIER_SECRET, MONITOR_VERIFIER_VARIABLE = "monitor-verifier", "monitor_verifier"
JOB_DEADLINE_SECONDS = 1800


def rds_ca_bundle(region: str) -> str:
    """The RDS root CAs of a region, as vendored; a region without them cannot verify its database."""
    path = RDS_CA_DIR / f"{region}.pem"
    if not path.is_file():
        raise pulumi.RunError(
            f"no RDS certificate authorities vendored for region {region!r} ({path}): run scripts/vendor_rds_ca.py"
        )
    return path.read_text()


def schema_sql(database: str, app_user: str = DATABASE_APP_USER, monitor_user: str = DATABASE_MONITOR_USER) -> str:
    """Idempotent: the extension; the application user (IAM authentication only: it has no password); what it may
    do, now and on every table the migrations (run as the master user) create later. No DDL, no ownership.
    The monitoring user: `pg_monitor` (statistics, no data), its password set as the SCRAM verifier psql
    substitutes for `:'monitor_verifier'`, so no password is in the statement or in the database's logs."""
    return "\n".join(
        [
            "CREATE EXTENSION IF NOT EXISTS vector;",
            # A named dollar quote: Kubernetes turns `$$` in an env value into `$` (EnvVar.value), which
            # PostgreSQL would refuse.
            "DO $body$ BEGIN",
            *(
                f"  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{user}') THEN CREATE ROLE {user} LOGIN;"
                "\n  END IF;"
                for user in (app_user, monitor_user)
            ),
            "END $body$;",
            f"GRANT pg_monitor TO {monitor_user};",
            f'GRANT CONNECT ON DATABASE "{database}" TO {monitor_user};',
            f"ALTER ROLE {monitor_user} WITH LOGIN PASSWORD :'{MONITOR_VERIFIER_VARIABLE}';",
            f"GRANT rds_iam TO {app_user};",
            f'GRANT CONNECT ON DATABASE "{database}" TO {app_user};',
            f"GRANT USAGE ON SCHEMA public TO {app_user};",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {app_user};",
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {app_user};",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app_user};",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {app_user};",
        ]
    )


@dataclass(frozen=True, kw_only=True)
class DatabaseSchemaArgs:
    provider: k8s.Provider
    kubernetes_version: pulumi.Input[str]
    region: pulumi.Input[str]
    database_host: pulumi.Input[str]
    database_port: pulumi.Input[int]
    database_name: pulumi.Input[str]
    master_secret_arn: pulumi.Input[str]
    admin_role_arn: pulumi.Input[str]
    """The `schema-admin` IRSA role (AWS layer): reads the master secret, nothing else."""
    monitor_secret_arn: pulumi.Input[str]
    """The monitoring user's secret (AWS layer), whose `verifier` the Job sets as that user's password."""
    migrations_image: str
    """The api image: its `npm run migrate:prod` is the service's migrations."""
    database_cidrs: pulumi.Input[Sequence[str]]
    after: Sequence[pulumi.Resource] = ()
    """External Secrets Operator: the SecretStore and ExternalSecret need its CRDs."""


class DatabaseSchema(pulumi.ComponentResource):
    job: k8s.batch.v1.Job
    namespace: k8s.core.v1.Namespace

    def __init__(self, name: str, args: DatabaseSchemaArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:DatabaseSchema", name, None, opts)
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={
                "name": SCHEMA_NAMESPACE,
                "labels": restricted_namespace_labels(args.kubernetes_version),
            },
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(args.after)),
        )
        self.namespace = namespace
        inside = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[namespace])
        store = irsa_secret_store(
            name,
            namespace=SCHEMA_NAMESPACE,
            account=SCHEMA_ADMIN,
            role_arn=args.admin_role_arn,
            region=args.region,
            opts=inside,
        )
        ca = k8s.core.v1.ConfigMap(
            f"{name}-rds-ca",
            metadata={"name": "rds-ca", "namespace": SCHEMA_NAMESPACE},
            data={"ca.pem": pulumi.Output.from_input(args.region).apply(rds_ca_bundle)},
            opts=inside,
        )
        url = pulumi.Output.all(args.database_host, args.database_port, args.database_name).apply(
            lambda hpn: (
                "postgresql://{{ .username | urlquery }}:{{ .password | urlquery }}"
                f"@{hpn[0]}:{hpn[1]}/{hpn[2]}?sslmode=verify-full&sslrootcert={RDS_CA_FILE}"
            )
        )
        admin_secret = external_secret(
            f"{name}-{ADMIN_SECRET}",
            name=ADMIN_SECRET,
            namespace=SCHEMA_NAMESPACE,
            data=[
                {"secretKey": key, "remoteRef": {"key": args.master_secret_arn, "property": key}}
                for key in ("username", "password")
            ],
            template={"DATABASE_URL": url, "PGUSER": "{{ .username }}", "PGPASSWORD": "{{ .password }}"},
            # RDS rotates the master secret every 7 days: within minutes, so a Job started soon after a
            # rotation (it gives up after 30) still gets the current password.
            refresh_interval="5m",
            store=store,
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider),
        )
        verifier = external_secret(
            f"{name}-{MONITOR_VERIFIER_SECRET}",
            name=MONITOR_VERIFIER_SECRET,
            namespace=SCHEMA_NAMESPACE,
            data=[{"secretKey": "verifier", "remoteRef": {"key": args.monitor_secret_arn, "property": "verifier"}}],
            store=store,
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider),
        )
        self._network_policies(name, args, inside)
        self.job = self._job(name, args, [ca, admin_secret, verifier])
        self.register_outputs({"jobName": self.job.metadata.name})

    def _job(self, name: str, args: DatabaseSchemaArgs, after: list[pulumi.Resource]) -> k8s.batch.v1.Job:
        sql = pulumi.Output.from_input(args.database_name).apply(schema_sql)
        wait_then_apply = (
            'until pg_isready -q -t 5; do echo "waiting for the database"; sleep 5; done; '
            # From standard input: psql substitutes its variables there (not in `-c`).
            "printf '%s\\n' \"$SCHEMA_SQL\" | psql -v ON_ERROR_STOP=1 "
            # The verifier arrives from a Secret, never in the command line's text.
            f'-v {MONITOR_VERIFIER_VARIABLE}="$MONITOR_VERIFIER"'
        )
        # The name carries a hash of what the Job does (the SQL, both images: a new release is a new api image,
        # so new migrations): a change makes a new Job (Jobs are immutable), an unchanged deploy leaves the
        # finished one alone.
        job_name = sql.apply(
            lambda text: (
                "schema-"
                + hashlib.sha256(
                    json.dumps([POSTGRES_CLIENT_IMAGE, args.migrations_image, wait_then_apply, text]).encode()
                ).hexdigest()[:8]
            )
        )
        server = [
            {"name": "PGHOST", "value": args.database_host},
            {"name": "PGPORT", "value": pulumi.Output.from_input(args.database_port).apply(str)},
            {"name": "PGDATABASE", "value": args.database_name},
            {"name": "PGSSLMODE", "value": "verify-full"},
            {"name": "PGSSLROOTCERT", "value": RDS_CA_FILE},
            {"name": "HOME", "value": "/tmp"},
        ]

        def admin(key: str) -> dict[str, Any]:
            return {"name": key, "valueFrom": {"secretKeyRef": {"name": ADMIN_SECRET, "key": key}}}

        mounts = [TMP_MOUNT, {"name": "rds-ca", "mountPath": RDS_CA_MOUNT, "readOnly": True}]
        metadata: Any = {
            "name": job_name,
            "namespace": SCHEMA_NAMESPACE,
            "labels": {"app": "schema"},
            "annotations": analysis_exemptions(
                {
                    "CKV_K8S_35": "libpq and the migrations read the master credentials from the environment; External "
                    "Secrets writes them, in this namespace only, and they appear in no manifest or state"
                }
            ),
        }
        spec: Any = {
            "backoffLimit": 6,
            "activeDeadlineSeconds": JOB_DEADLINE_SECONDS,
            "template": {
                "metadata": {"labels": {"app": "schema"}},
                "spec": {
                    "restartPolicy": "OnFailure",
                    "serviceAccountName": SCHEMA_ADMIN,
                    "automountServiceAccountToken": False,
                    "securityContext": pod_security_context(),
                    "initContainers": [
                        {
                            "name": "extension-and-app-user",
                            "image": POSTGRES_CLIENT_IMAGE,
                            "imagePullPolicy": "Always",
                            "command": ["sh", "-c", wait_then_apply],
                            "env": [
                                *server,
                                {"name": "SCHEMA_SQL", "value": sql},
                                admin("PGUSER"),
                                admin("PGPASSWORD"),
                                {
                                    "name": "MONITOR_VERIFIER",
                                    "valueFrom": {"secretKeyRef": {"name": MONITOR_VERIFIER_SECRET, "key": "verifier"}},
                                },
                            ],
                            "resources": {
                                "requests": {"cpu": "50m", "memory": "64Mi"},
                                "limits": {"cpu": "500m", "memory": "128Mi"},
                            },
                            "securityContext": container_security_context(),
                            "volumeMounts": mounts,
                        }
                    ],
                    "containers": [
                        {
                            "name": "migrations",
                            "image": args.migrations_image,
                            "imagePullPolicy": "Always",
                            "command": ["npm", "run", "migrate:prod"],
                            "env": [
                                *server,
                                {"name": "NODE_ENV", "value": "production"},
                                {"name": "NPM_CONFIG_CACHE", "value": "/tmp/.npm"},
                                admin("DATABASE_URL"),
                            ],
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "256Mi"},
                                "limits": {"cpu": "1", "memory": "512Mi"},
                            },
                            "securityContext": container_security_context(),
                            "volumeMounts": mounts,
                        }
                    ],
                    "volumes": [TMP_VOLUME, {"name": "rds-ca", "configMap": {"name": "rds-ca"}}],
                },
            },
        }
        return k8s.batch.v1.Job(
            f"{name}-job",
            metadata=metadata,
            spec=spec,
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=args.provider,
                depends_on=after,
                # Pulumi waits for the Job to succeed: longer than the Job's own deadline.
                custom_timeouts=pulumi.CustomTimeouts(create="35m", update="35m"),
            ),
        )

    def _network_policies(self, name: str, args: DatabaseSchemaArgs, opts: pulumi.ResourceOptions) -> None:
        database = pulumi.Output.from_input(args.database_cidrs).apply(
            lambda cidrs: [{"ipBlock": {"cidr": c}} for c in cidrs]
        )
        dns = DNS_EGRESS
        policies: dict[str, Any] = {
            "default-deny": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
            # DNS, and PostgreSQL in the database subnets: nothing else, in or out.
            "schema": {
                "podSelector": {"matchLabels": {"app": "schema"}},
                "policyTypes": ["Egress"],
                "egress": [dns, {"to": database, "ports": [{"protocol": "TCP", "port": DATABASE_PORT}]}],
            },
        }
        for policy, spec in policies.items():
            metadata: Any = {"name": policy, "namespace": SCHEMA_NAMESPACE}
            k8s.networking.v1.NetworkPolicy(f"{name}-netpol-{policy}", metadata=metadata, spec=spec, opts=opts)
