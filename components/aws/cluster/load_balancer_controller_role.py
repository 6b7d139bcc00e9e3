"""The AWS Load Balancer Controller's AWS identity (IRSA): the controller's own IAM policy, as its release publishes
it, for the one service account the Kubernetes layer runs it as.

- The policy is vendored next to this file (`load_balancer_controller_iam_policy-v<version>.json`, its source in
  the sibling `.source`), read from disk and checked against `POLICY_SHA256` before use: the offline plan
  never fetches it, and an edited file fails the program instead of granting what nobody reviewed. Upgrading the
  controller means vendoring its release's policy and updating the version and the checksum here.
- Inline, not managed: the deploy role may create no managed policy. Its statements are the vendored ones,
  unchanged; only whitespace is dropped, and the result must fit a role's inline limit (10,240 characters).
- Here the controller only registers the ingress gateway's pods in a target group the AWS layer owns (a
  TargetGroupBinding), and creates no load balancer. The upstream policy still lets it create and tag load
  balancers and security groups (conditioned on its `elbv2.k8s.aws/cluster` tag), as it would for an Ingress:
  narrowing it would be a fork to maintain against every release.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pulumi

from components.aws.security.irsa_role import IrsaRole, IrsaRoleArgs
from components.aws.security.role_limits import RoleLimits
from philosophy_infra.service import LOAD_BALANCER_CONTROLLER, LOAD_BALANCER_CONTROLLER_NAMESPACE

CONTROLLER_VERSION = "v3.5.0"
POLICY_FILE = Path(__file__).with_name(f"load_balancer_controller_iam_policy-{CONTROLLER_VERSION}.json")
POLICY_SHA256 = "16f232c9d9f79366fe949c4550ad517a202380058a9e48d45a4e215044a20a6a"
# IAM's limit on the inline policies of one role, together (whitespace not counted).
INLINE_POLICY_LIMIT = 10_240


def controller_policy(path: Path = POLICY_FILE, sha256: str = POLICY_SHA256) -> str:
    """The vendored policy, verified and without whitespace."""
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise pulumi.RunError(
            f"{path.name} has sha256 {digest}, not the vendored {sha256}: restore the file, or vendor a new "
            "release's policy and update POLICY_SHA256 in components/aws/cluster/load_balancer_controller_role.py"
        )
    minified = json.dumps(json.loads(data), separators=(",", ":"))
    if len(minified) > INLINE_POLICY_LIMIT:
        raise pulumi.RunError(
            f"{path.name} is {len(minified)} characters without whitespace, over a role's inline limit of "
            f"{INLINE_POLICY_LIMIT}: split it into two inline policies, never drop statements"
        )
    return minified


@dataclass(frozen=True, kw_only=True)
class LoadBalancerControllerRoleArgs:
    role_limits: RoleLimits
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]


class LoadBalancerControllerRole(pulumi.ComponentResource):
    role_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: LoadBalancerControllerRoleArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("philosophy:index:LoadBalancerControllerRole", name, None, opts)
        role = IrsaRole(
            f"{name}-irsa",
            IrsaRoleArgs(
                role_limits=args.role_limits,
                oidc_provider_arn=args.oidc_provider_arn,
                oidc_issuer=args.oidc_issuer,
                namespace=LOAD_BALANCER_CONTROLLER_NAMESPACE,
                service_account=LOAD_BALANCER_CONTROLLER,
                inline_policy=controller_policy(),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.role_arn = role.role_arn
        self.register_outputs({"roleArn": self.role_arn})
