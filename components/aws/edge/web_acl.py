"""The distribution's WAF: a WAFv2 web ACL of scope CLOUDFRONT (which lives in us-east-1, the per-resource `region` of
pulumi-aws 7), allowing by default, with, in this order:

0. a per-IP rate limit (`edge.rateLimit` requests in five minutes), which blocks the IP while it is over;
1. AWS's IP reputation list (known bots, scanners, sources of attacks);
2. AWS's common rule set (OWASP-style), except `SizeRestrictions_BODY`, which only counts: it blocks bodies over 8 KB,
   and a long prompt is a large body. The other rules still inspect the body (CloudFront's WAF inspects its first
   16 KB);
3. AWS's known bad inputs (Log4Shell, Java deserialization, ...);
4. AWS's SQL injection rule set.

The managed groups keep their own actions (`override_action: none`). Every rule and the ACL publish CloudWatch
metrics and sample requests. Full logs go to `aws-waf-logs-<prefix>` in us-east-1 (WAF requires the prefix),
KMS-encrypted, with the `authorization` and `cookie` headers redacted: the logs must not hold credentials.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws.edge.certificates import CLOUDFRONT_REGION
from components.aws.edge.edge_logs import edge_log_group
from philosophy_infra.config.base import DataProtection

RATE_WINDOW_SECONDS = 300
LOG_GROUP_PREFIX = "aws-waf-logs-"
"""WAF delivers only to log groups (and streams and buckets) whose names start with this."""
REDACTED_HEADERS = ("authorization", "cookie")
BODY_SIZE_RULE = "SizeRestrictions_BODY"
MANAGED_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("AWSManagedRulesAmazonIpReputationList", ()),
    ("AWSManagedRulesCommonRuleSet", (BODY_SIZE_RULE,)),
    ("AWSManagedRulesKnownBadInputsRuleSet", ()),
    ("AWSManagedRulesSQLiRuleSet", ()),
)
"""AWS's managed rule groups after the rate limit, in priority order, each with the rules of it that only count."""


@dataclass(frozen=True, kw_only=True)
class WebAclArgs:
    name_prefix: str
    rate_limit: int
    """Requests per client IP in five minutes, above which the IP is blocked (`edge.rateLimit`)."""
    data_protection: DataProtection = DataProtection.PROTECTED
    """Sets the logs' retention and protects their key."""


def _visibility(metric: str) -> dict[str, Any]:
    return {"cloudwatch_metrics_enabled": True, "metric_name": metric, "sampled_requests_enabled": True}


def web_acl_rules(prefix: str, rate_limit: int) -> list[dict[str, Any]]:
    """The ACL's rules, lowest priority (evaluated first) first."""
    rules: list[dict[str, Any]] = [
        {
            "name": "rate-limit-per-ip",
            "priority": 0,
            "action": {"block": {}},
            "statement": {
                "rate_based_statement": {
                    "limit": rate_limit,
                    "aggregate_key_type": "IP",
                    "evaluation_window_sec": RATE_WINDOW_SECONDS,
                }
            },
            "visibility_config": _visibility(f"{prefix}-rate-limit-per-ip"),
        }
    ]
    for priority, (group, counted) in enumerate(MANAGED_GROUPS, start=1):
        statement: dict[str, Any] = {"vendor_name": "AWS", "name": group}
        if counted:
            statement["rule_action_overrides"] = [{"name": rule, "action_to_use": {"count": {}}} for rule in counted]
        rules.append(
            {
                "name": group,
                "priority": priority,
                "override_action": {"none": {}},
                "statement": {"managed_rule_group_statement": statement},
                "visibility_config": _visibility(f"{prefix}-{group}"),
            }
        )
    return rules


ALLOW: aws.wafv2.WebAclDefaultActionArgsDict = {"allow": {}}


class WebAcl(pulumi.ComponentResource):
    arn: pulumi.Output[str]
    """What the distribution's `web_acl_id` takes (for WAFv2, the ARN, not the id)."""

    def __init__(self, name: str, args: WebAclArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if args.rate_limit < 10:
            raise ValueError(f"rate_limit must be at least 10 (WAF's minimum), got {args.rate_limit}")
        super().__init__("philosophy:index:WebAcl", name, None, opts)
        # Built as plain data (tested as such); the SDK's typed dicts are structurally the same.
        rules: Any = web_acl_rules(args.name_prefix, args.rate_limit)
        visibility: Any = _visibility(f"{args.name_prefix}-cdn")
        acl = aws.wafv2.WebAcl(
            f"{name}-acl",
            name=f"{args.name_prefix}-cdn",
            description=f"{args.name_prefix}: the CloudFront distribution's rate limit and AWS managed rules",
            scope="CLOUDFRONT",
            region=CLOUDFRONT_REGION,
            default_action=ALLOW,
            rules=rules,
            visibility_config=visibility,
            opts=pulumi.ResourceOptions(parent=self),
        )
        logs = edge_log_group(
            f"{name}-logs",
            log_group_name=f"{LOG_GROUP_PREFIX}{args.name_prefix}",
            description=f"{args.name_prefix}: the CloudFront WAF's logs",
            alias=f"{args.name_prefix}-waf-logs",
            data_protection=args.data_protection,
            parent=self,
        )
        aws.wafv2.WebAclLoggingConfiguration(
            f"{name}-logging",
            resource_arn=acl.arn,
            log_destination_configs=[logs.group.arn],
            redacted_fields=[{"single_header": {"name": header}} for header in REDACTED_HEADERS],
            region=CLOUDFRONT_REGION,
            opts=pulumi.ResourceOptions(parent=acl, depends_on=[logs.delivery_policy]),
        )
        self.arn = acl.arn
        self.register_outputs({"arn": self.arn})
