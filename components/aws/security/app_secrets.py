"""The service's own secrets in Secrets Manager: containers whose values operators put in, never Pulumi.

Pulumi creates each secret (name, KMS key, tags) but no version: the value is written out of band
(`aws secretsmanager put-secret-value`), so it never passes through config, code, state or the plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.aws.security.encryption_key import EncryptionKey, EncryptionKeyArgs
from philosophy_infra.config.base import SECRET_RECOVERY_WINDOW_DAYS, DataProtection

# The seed's secrets that no data store provides: the LLM API key and the JWT signing secret. No name ends in "-"
# and six characters, which Secrets Manager reads as the random suffix of an ARN (`jwt-secret` would).
SECRETS = ("llm-api-key", "jwt-signing-key")
# A deleted secret's name stays taken for its recovery window. A protected stack keeps the longest window; a
# `snapshotOnly` stack (the one torn down and re-created) the shortest, so a re-create is not refused for a month.


@dataclass(frozen=True, kw_only=True)
class AppSecretsArgs:
    name_prefix: str
    """Secret names become `<name_prefix>/<secret>`, e.g. `philosophy-prod/llm-api-key`."""
    secrets: Sequence[str] = field(default=SECRETS)
    data_protection: DataProtection = DataProtection.PROTECTED


class AppSecrets(pulumi.ComponentResource):
    arns: dict[str, pulumi.Output[str]]
    key_arn: pulumi.Output[str]

    def __init__(self, name: str, args: AppSecretsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:AppSecrets", name, None, opts)
        key = EncryptionKey(
            f"{name}-encryption",
            EncryptionKeyArgs(
                description=f"{args.name_prefix}: application secrets",
                alias=f"{args.name_prefix}-app-secrets",
                data_protection=args.data_protection,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.arns = {}
        for secret in args.secrets:
            self.arns[secret] = aws.secretsmanager.Secret(
                f"{name}-{secret}",
                name=f"{args.name_prefix}/{secret}",
                description=f"{secret}: the value is set out of band, never by Pulumi",
                kms_key_id=key.key_arn,
                recovery_window_in_days=SECRET_RECOVERY_WINDOW_DAYS[args.data_protection],
                opts=pulumi.ResourceOptions(parent=self),
            ).arn
        self.key_arn = key.key_arn
        self.register_outputs({"arns": self.arns, "keyArn": self.key_arn})
