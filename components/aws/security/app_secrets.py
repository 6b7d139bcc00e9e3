"""Secrets in Secrets Manager whose values operators put in, never Pulumi: the service's own (`AppSecrets` with
its defaults) and, in an instance of their own, the git repository's credentials that Argo CD reads.

Pulumi creates each secret (name, KMS key, tags) but no version: the value is written out of band
(`aws secretsmanager put-secret-value`), so it never passes through config, code, state or the plan.
Each instance has its own KMS key, so a reader of one set cannot decrypt another's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.aws.security.encryption_key import EncryptionKey, EncryptionKeyArgs
from philosophy_infra.config.base import SECRET_RECOVERY_WINDOW_DAYS, DataProtection

# The seed's secrets that no data store provides: the LLM API key and the JWT signing secret.
SECRETS = ("llm-api-key", "jwt-signing-key")
# Argo CD's credentials for this repository (a GitHub App's: a JSON object with `githubAppID`,
# `githubAppInstallationID` and `githubAppPrivateKey`). Not the service's: no account of the app namespace reads it.
REPOSITORY_SECRETS = ("git-repository",)
# No name may end in "-" and six characters, which Secrets Manager reads as the random suffix of an ARN
# (`jwt-secret` would).
_ARN_SUFFIX = re.compile(r"-[A-Za-z0-9]{6}$")
# A deleted secret's name stays taken for its recovery window. A protected stack keeps the longest window; a
# `snapshotOnly` stack (the one torn down and re-created) the shortest, so a re-create is not refused for a month.


@dataclass(frozen=True, kw_only=True)
class AppSecretsArgs:
    name_prefix: str
    """Secret names become `<name_prefix>/<secret>`, e.g. `philosophy-prod/llm-api-key`."""
    secrets: Sequence[str] = field(default=SECRETS)
    key_alias: str = "app-secrets"
    """The KMS key's alias becomes `<name_prefix>-<key_alias>`; each instance has a key of its own."""
    purpose: str = "application secrets"
    """What the secrets are, in the key's description."""
    data_protection: DataProtection = DataProtection.PROTECTED
    replica_region: str | None = None
    """The DR region: Secrets Manager keeps a read-only replica of each secret there, under a key of this instance's
    in that region, so the values an operator put in survive the loss of the stack's region."""


class AppSecrets(pulumi.ComponentResource):
    arns: dict[str, pulumi.Output[str]]
    key_arn: pulumi.Output[str]

    def __init__(self, name: str, args: AppSecretsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:AppSecrets", name, None, opts)
        ambiguous = [secret for secret in args.secrets if _ARN_SUFFIX.search(secret)]
        if ambiguous:
            raise ValueError(
                f"secret names {ambiguous}: a name must not end in '-' and six letters or digits, which Secrets "
                "Manager reads as an ARN's random suffix"
            )
        key = EncryptionKey(
            f"{name}-encryption",
            EncryptionKeyArgs(
                description=f"{args.name_prefix}: {args.purpose}",
                alias=f"{args.name_prefix}-{args.key_alias}",
                data_protection=args.data_protection,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        replicas: list[aws.secretsmanager.SecretReplicaArgsDict] = []
        if args.replica_region is not None:
            replica_key = EncryptionKey(
                f"{name}-replica-encryption",
                EncryptionKeyArgs(
                    description=f"{args.name_prefix}: {args.purpose} (replicas)",
                    alias=f"{args.name_prefix}-{args.key_alias}",
                    data_protection=args.data_protection,
                    region=args.replica_region,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            replicas = [{"region": args.replica_region, "kms_key_id": replica_key.key_arn}]
        self.arns = {}
        for secret in args.secrets:
            self.arns[secret] = aws.secretsmanager.Secret(
                f"{name}-{secret}",
                name=f"{args.name_prefix}/{secret}",
                description=f"{secret}: the value is set out of band, never by Pulumi",
                kms_key_id=key.key_arn,
                recovery_window_in_days=SECRET_RECOVERY_WINDOW_DAYS[args.data_protection],
                replicas=replicas or None,
                opts=pulumi.ResourceOptions(parent=self),
            ).arn
        self.key_arn = key.key_arn
        self.register_outputs({"arns": self.arns, "keyArn": self.key_arn})
