"""The secrets of Alertmanager's receivers, and the one identity that reads them.

For each receiver of `alerting.receivers`, an empty Secrets Manager secret (`<prefix>/alerting/<name>`,
KMS-encrypted with the app secrets' key); its value is put out of band, never by Pulumi. An IRSA role for the
`monitoring` namespace's `alert-receivers` account may read exactly those secrets: External Secrets syncs them
into the Secret Alertmanager mounts. The receivers (type, severities, secret ARN) are exported for the
Kubernetes layer, so they are configured once.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.security.irsa_role import IrsaRole, IrsaRoleArgs, read_secrets_policy
from components.aws.security.role_limits import RoleLimits
from philosophy_infra.config.alerting import AlertingConfig
from philosophy_infra.config.base import SECRET_RECOVERY_WINDOW_DAYS, DataProtection

NAMESPACE, SERVICE_ACCOUNT = "monitoring", "alert-receivers"


@dataclass(frozen=True, kw_only=True)
class AlertReceiversArgs:
    name_prefix: str
    settings: AlertingConfig
    role_limits: RoleLimits
    region: str
    key_arn: pulumi.Input[str]
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    data_protection: DataProtection = DataProtection.PROTECTED


class AlertReceivers(pulumi.ComponentResource):
    receivers: dict[str, dict[str, object]]
    role_arn: pulumi.Output[str] | None

    def __init__(self, name: str, args: AlertReceiversArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:AlertReceivers", name, None, opts)
        self.receivers, arns = {}, []
        for receiver in args.settings.receivers:
            secret = aws.secretsmanager.Secret(
                f"{name}-{receiver.name}",
                name=f"{args.name_prefix}/alerting/{receiver.name}",
                description=f"Alertmanager receiver {receiver.name} ({receiver.type.value}): set out of band",
                kms_key_id=args.key_arn,
                recovery_window_in_days=SECRET_RECOVERY_WINDOW_DAYS[args.data_protection],
                opts=pulumi.ResourceOptions(parent=self),
            )
            arns.append(secret.arn)
            self.receivers[receiver.name] = {
                "type": receiver.type.value,
                "severities": [s.value for s in receiver.severities],
                "secretArn": secret.arn,
            }
        self.role_arn = None
        if arns:
            region = args.region
            role = IrsaRole(
                f"{name}-reader",
                IrsaRoleArgs(
                    role_limits=args.role_limits,
                    oidc_provider_arn=args.oidc_provider_arn,
                    oidc_issuer=args.oidc_issuer,
                    namespace=NAMESPACE,
                    service_account=SERVICE_ACCOUNT,
                    inline_policy=pulumi.Output.all(args.key_arn, *arns).apply(
                        lambda v: read_secrets_policy(v[1:], [v[0]], region)
                    ),
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.role_arn = role.role_arn
        self.register_outputs({"receivers": self.receivers})
