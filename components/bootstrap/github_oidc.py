"""GitHub Actions' OIDC identity provider in IAM: what lets a workflow job trade its token for a role's
credentials, so no long-lived AWS key is ever stored in GitHub."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.security.policy_statements import GITHUB_OIDC_AUDIENCE, GITHUB_OIDC_HOST


@dataclass(frozen=True, kw_only=True)
class GithubOidcProviderArgs:
    audience: str = GITHUB_OIDC_AUDIENCE
    """The `aud` GitHub puts in the token when aws-actions/configure-aws-credentials asks for one."""


class GithubOidcProvider(pulumi.ComponentResource):
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: GithubOidcProviderArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:GithubOidcProvider", name, None, opts)
        # An account has one provider per URL: if one was created by hand, `pulumi import` it instead.
        # No thumbprint: IAM trusts GitHub's certificate authority itself (optional since pulumi-aws 7).
        provider = aws.iam.OpenIdConnectProvider(
            f"{name}-provider",
            url=f"https://{GITHUB_OIDC_HOST}",
            client_id_lists=[args.audience],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.arn = provider.arn
        self.register_outputs({"arn": self.arn})
