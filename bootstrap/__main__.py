"""philosophy-bootstrap: what every other stack of an AWS account stands on, created once per account.

The Pulumi state bucket (replicated into the DR region), the key of the stacks' `awskms://` secrets provider,
GitHub's OIDC provider with the CI's roles (preview, drift, one deploy role per environment, the app's image
push) and the ECR repositories of the service's images. It is run from an administrator's workstation with a
local backend, then its own state moves into the bucket it created (README, "The bootstrap layer").

Config is loaded and validated once, here, before any resource is registered; components get plain values.
"""

import pulumi
import pulumi_aws as aws

from components.bootstrap.account_log_groups import AccountLogGroups, AccountLogGroupsArgs
from components.bootstrap.ci_roles import CiRoles, CiRolesArgs
from components.bootstrap.container_registry import ContainerRegistry, ContainerRegistryArgs
from components.bootstrap.github_oidc import GithubOidcProvider, GithubOidcProviderArgs
from components.bootstrap.secrets_key import SecretsKey, SecretsKeyArgs
from components.bootstrap.service_linked_roles import ServiceLinkedRoles, ServiceLinkedRolesArgs
from components.bootstrap.state_backend import StateBackend, StateBackendArgs
from philosophy_infra.config.bootstrap import load_bootstrap_config
from philosophy_infra.layers import AWS_PROJECT, KUBERNETES_PROJECT
from philosophy_infra.naming import common_tags

config = load_bootstrap_config()

# Two explicit providers, both with the common tags: the account's home region, and the DR region, which only
# the replicas (state, secrets key, images) and their keys use.
default_tags: aws.ProviderDefaultTagsArgsDict = {
    "tags": common_tags(pulumi.get_project(), owner=config.owner, cost_center=config.cost_center)
}
home = aws.Provider("aws", region=config.region, default_tags=default_tags)
dr = aws.Provider("aws-dr", region=config.dr_region, default_tags=default_tags)
with_aws = pulumi.ResourceOptions(providers={"aws": home})

github = GithubOidcProvider("github-oidc", GithubOidcProviderArgs(), opts=with_aws)

# The roles come first: the keys' and the state bucket's policies name them (and KMS and S3 refuse a policy
# naming a principal that does not exist yet). The roles' own policies name only what has a fixed name.
ci = CiRoles(
    "ci",
    CiRolesArgs(
        oidc_provider_arn=github.arn,
        infra_repository=config.github.infra_repository,
        app_repository=config.github.app_repository,
        environments=config.environments,
        region=config.region,
        state_bucket=config.state_bucket_name,
        replica_bucket=config.replica_bucket_name,
        # Only the AWS layer deploys from GitHub's runners; the Kubernetes layer deploys on the deploy runner,
        # whose own role (in the AWS layer) holds its state.
        state_projects=[AWS_PROJECT],
        environment_projects=[AWS_PROJECT, KUBERNETES_PROJECT],
        ecr_namespace=config.ecr.namespace,
        ecr_repositories=config.ecr.repositories,
    ),
    opts=with_aws,
)

state = StateBackend(
    "state",
    StateBackendArgs(
        bucket_name=config.state_bucket_name,
        replica_bucket_name=config.replica_bucket_name,
        key_alias=f"{config.stack_key_alias}-state",
        region=config.region,
        dr_region=config.dr_region,
        dr_provider=dr,
        projects=[AWS_PROJECT],
        deploy_role_arns=ci.deploy_role_arns,
        read_only_role_arns=ci.read_only_role_arns,
        ci_role_arns=ci.all_role_arns,
        noncurrent_version_expiration_days=config.state_lifecycle.noncurrent_version_expiration_days,
        abort_incomplete_multipart_upload_days=config.state_lifecycle.abort_incomplete_multipart_upload_days,
        data_protection=config.data_protection,
    ),
    opts=with_aws,
)

secrets_key = SecretsKey(
    "secrets-key",
    SecretsKeyArgs(
        alias=config.stack_key_alias,
        deploy_role_arns=list(ci.deploy_role_arns.values()),
        read_only_role_arns=ci.read_only_role_arns,
        other_ci_role_arns=[ci.push_role_arn],
        dr_provider=dr,
        data_protection=config.data_protection,
    ),
    opts=with_aws,
)

registry = ContainerRegistry(
    "ecr",
    ContainerRegistryArgs(
        namespace=config.ecr.namespace,
        repositories=config.ecr.repositories,
        region=config.region,
        dr_region=config.dr_region,
        dr_provider=dr,
        key_alias=f"{config.ecr.namespace}-ecr",
        keep_releases=config.ecr.keep_releases,
        untagged_expire_days=config.ecr.untagged_expire_days,
        scanning=config.ecr.scanning,
        ci_role_arns=ci.all_role_arns,
        data_protection=config.data_protection,
    ),
    opts=with_aws,
)

# Where each value goes (README): the backend URL and secrets provider into every `pulumi login` / `stack init`
# and the repository variable PULUMI_BACKEND_URL; stateBucket and secretsKeyArn into each AWS-layer stack's
# deployRunner.stateBucket / stateKmsKeyArn; imageRegistry into workloads.imageRegistry; the role ARNs into
# GitHub variables (AWS_PREVIEW_ROLE_ARN, AWS_DRIFT_ROLE_ARN; AWS_DEPLOY_ROLE_ARN per environment; the app
# repository's push role).
# Once per account: what RDS would otherwise create with no retention and no key of ours.
AccountLogGroups(
    "account-logs",
    AccountLogGroupsArgs(
        rds_os_metrics_retention_days=config.rds_os_metrics_retention_days, data_protection=config.data_protection
    ),
    opts=with_aws,
)

ServiceLinkedRoles("service-roles", ServiceLinkedRolesArgs(), opts=with_aws)

pulumi.export("stateBucket", state.bucket_name)
pulumi.export("stateReplicaBucket", state.replica_bucket_name)
pulumi.export("stateBackendUrl", f"s3://{config.state_bucket_name}?region={config.region}&awssdk=v2")
pulumi.export("secretsProvider", f"awskms://{secrets_key.alias_name}?region={config.region}")
pulumi.export("secretsKeyArn", secrets_key.key_arn)
pulumi.export("oidcProviderArn", github.arn)
pulumi.export("previewRoleArn", ci.preview_role_arn)
pulumi.export("driftRoleArn", ci.drift_role_arn)
pulumi.export("deployRoleArns", ci.deploy_role_arns)
pulumi.export("appPushRoleArn", ci.push_role_arn)
pulumi.export("roleBoundaryArns", ci.role_boundary_arns)
pulumi.export("ecrRepositoryUrls", registry.repository_urls)
pulumi.export("imageRegistry", pulumi.Output.concat(registry.registry, "/", config.ecr.namespace))
pulumi.export("drRegion", config.dr_region)
