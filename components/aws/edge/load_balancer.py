"""The service's load balancer: internal, in the private subnets, reached only by CloudFront's VPC origin, in front
of the Istio ingress gateway's pods (which the AWS Load Balancer Controller registers in its target group through
a TargetGroupBinding: the Kubernetes layer's).

- External traffic enters the mesh at the gateway, so the canary's weights (the gateway's VirtualService) apply to
  it; a target group of the api's own pods would bypass them.
- HTTPS with the TLS 1.3 policy when the edge has a domain (the certificate names `origin.<domain>`); HTTP when it
  has none (no certificate can name an internal load balancer), which never leaves AWS's network: CloudFront
  reaches the load balancer through the VPC origin's interfaces in this VPC.
- Invalid headers dropped, an idle timeout that keeps quiet websockets open, deletion protection and access logs
  in protected stacks.
- Its security group admits the VPC origin's security group (CloudFront creates it in this VPC, with the VPC
  origin) on the listener's port, and sends only to the gateway's pods (80, health on 15021): the node security
  group admits exactly that from it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.data.private_bucket import private_bucket_settings
from components.aws.security.policy_statements import tls_only_statements
from philosophy_infra.config.base import DataProtection
from philosophy_infra.service import INGRESS_GATEWAY_HEALTH_PORT, INGRESS_GATEWAY_TRAFFIC_PORT

# The Istio ingress gateway's pods (gateway chart): HTTP on 80 (its `http2` target port), readiness on 15021.
GATEWAY_PORT, GATEWAY_HEALTH_PORT = INGRESS_GATEWAY_TRAFFIC_PORT, INGRESS_GATEWAY_HEALTH_PORT
GATEWAY_HEALTH_PATH = "/healthz/ready"
# TLS 1.3, and TLS 1.2 with forward secrecy and AEAD ciphers only (no CBC), like the viewer side's TLSv1.2_2025.
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-Res-2021-06"
ACCESS_LOG_PREFIX = "alb"
# CloudFront's VPC origins reach their origin from this security group, which CloudFront creates in the VPC.
VPC_ORIGIN_SECURITY_GROUP = "CloudFront-VPCOrigins-Service-SG"


@dataclass(frozen=True, kw_only=True)
class ServiceLoadBalancerArgs:
    name_prefix: str
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[str]]
    """The private subnets: a VPC origin needs its load balancer in private subnets."""
    node_security_group_id: pulumi.Input[str]
    certificate_arn: pulumi.Input[str] | None
    """The validated certificate of `origin.<domain>` in the stack's region; None: HTTP inside the VPC."""
    idle_timeout_seconds: int
    data_protection: DataProtection = DataProtection.PROTECTED


class ServiceLoadBalancer(pulumi.ComponentResource):
    arn: pulumi.Output[str]
    dns_name: pulumi.Output[str]
    target_group_arn: pulumi.Output[str]
    security_group_id: pulumi.Output[str]
    listener_port: int

    def __init__(self, name: str, args: ServiceLoadBalancerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:ServiceLoadBalancer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        protected = args.data_protection is DataProtection.PROTECTED
        https = args.certificate_arn is not None
        self.listener_port = 443 if https else 80

        group = aws.ec2.SecurityGroup(
            f"{name}-security-group",
            vpc_id=args.vpc_id,
            description=f"{args.name_prefix} service load balancer: from CloudFront's VPC origin only",
            revoke_rules_on_delete=True,
            tags={"Name": f"{args.name_prefix}-service-alb"},
            opts=child,
        )
        for port in (GATEWAY_PORT, GATEWAY_HEALTH_PORT):
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-to-gateway-{port}",
                security_group_id=group.id,
                referenced_security_group_id=args.node_security_group_id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                description="to the Istio ingress gateway's pods",
                opts=child,
            )
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-node-from-alb-{port}",
                security_group_id=args.node_security_group_id,
                referenced_security_group_id=group.id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                description="the service load balancer to the Istio ingress gateway's pods",
                opts=child,
            )

        # ELB checks that it may write to the bucket when access logs are turned on: the policy first.
        log_policy: list[pulumi.Resource] = []
        access_logs = self._access_logs_bucket(name, args, log_policy) if protected else None
        balancer = aws.lb.LoadBalancer(
            f"{name}-alb",
            name=f"{args.name_prefix}-service"[:32],
            internal=True,
            load_balancer_type="application",
            subnets=args.subnet_ids,
            security_groups=[group.id],
            ip_address_type="ipv4",
            idle_timeout=args.idle_timeout_seconds,
            drop_invalid_header_fields=True,
            enable_deletion_protection=protected,
            access_logs={"bucket": access_logs.bucket, "prefix": ACCESS_LOG_PREFIX, "enabled": True}
            if access_logs is not None
            else None,
            opts=pulumi.ResourceOptions(parent=self, depends_on=log_policy),
        )
        target_group = aws.lb.TargetGroup(
            f"{name}-gateway",
            # Named by Pulumi (a random suffix): a replacement is created before the old group is deleted.
            target_type="ip",
            protocol="HTTP",
            port=GATEWAY_PORT,
            vpc_id=args.vpc_id,
            # A gateway pod that is going away finishes its requests within this; websockets reconnect.
            deregistration_delay=30,
            health_check={
                "protocol": "HTTP",
                "port": str(GATEWAY_HEALTH_PORT),
                "path": GATEWAY_HEALTH_PATH,
                "matcher": "200",
                "interval": 10,
                "healthy_threshold": 2,
                "unhealthy_threshold": 2,
            },
            opts=child,
        )
        forward: list[aws.lb.ListenerDefaultActionArgsDict] = [
            {"type": "forward", "target_group_arn": target_group.arn}
        ]
        if https:
            aws.lb.Listener(
                f"{name}-https",
                load_balancer_arn=balancer.arn,
                port=443,
                protocol="HTTPS",
                ssl_policy=TLS_POLICY,
                certificate_arn=args.certificate_arn,
                default_actions=forward,
                opts=child,
            )
        else:
            aws.lb.Listener(
                f"{name}-http",
                load_balancer_arn=balancer.arn,
                port=80,
                protocol="HTTP",
                default_actions=forward,
                opts=child,
            )
        self.arn = balancer.arn
        self.dns_name = balancer.dns_name
        self.target_group_arn = target_group.arn
        self.security_group_id = group.id
        self.register_outputs({"arn": self.arn, "targetGroupArn": self.target_group_arn})

    def admit_vpc_origin(self, name: str, vpc_id: pulumi.Input[str], vpc_origin: pulumi.Resource) -> None:
        """Admit CloudFront's VPC origin security group, which exists once the VPC origin does."""
        origin_group = aws.ec2.get_security_group_output(
            vpc_id=vpc_id,
            name=VPC_ORIGIN_SECURITY_GROUP,
            opts=pulumi.InvokeOutputOptions(parent=self, depends_on=[vpc_origin]),
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-from-vpc-origin",
            # (Looked up after the VPC origin, which CloudFront creates the group with.)
            security_group_id=self.security_group_id,
            referenced_security_group_id=origin_group.id,
            ip_protocol="tcp",
            from_port=self.listener_port,
            to_port=self.listener_port,
            description="CloudFront, through the VPC origin",
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _access_logs_bucket(
        self, name: str, args: ServiceLoadBalancerArgs, policy_applied: list[pulumi.Resource]
    ) -> aws.s3.Bucket:
        """Access logs go to S3 only, encrypted with S3's keys (ELB supports no other), written by ELB's log
        delivery in the stack's region."""
        bucket = aws.s3.Bucket(
            f"{name}-access-logs",
            force_destroy=False,
            tags={"Name": f"{args.name_prefix}-alb-access-logs"},
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        elb = aws.elb.get_service_account_output(opts=pulumi.InvokeOutputOptions(parent=self))
        policy = pulumi.Output.all(bucket.arn, account, elb.arn).apply(
            lambda v: json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        *tls_only_statements(v[0]),
                        {
                            # The region's ELB account (regions before August 2022) or ELB's log delivery service.
                            "Sid": "ElasticLoadBalancingWritesAccessLogs",
                            "Effect": "Allow",
                            "Principal": {"AWS": v[2], "Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
                            "Action": "s3:PutObject",
                            "Resource": f"{v[0]}/{ACCESS_LOG_PREFIX}/AWSLogs/{v[1]}/*",
                        },
                    ],
                }
            )
        )
        private_bucket_settings(
            f"{name}-access-logs",
            bucket,
            default_encryption={"sse_algorithm": "AES256"},
            policy=policy,
            policy_applied=policy_applied,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-access-logs-lifecycle",
            bucket=bucket.id,
            rules=[
                {
                    "id": "expire",
                    "status": "Enabled",
                    "filter": {"prefix": ""},
                    "expiration": {"days": 90},
                    "noncurrent_version_expiration": {"noncurrent_days": 7},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
                },
            ],
            opts=pulumi.ResourceOptions(parent=bucket),
        )
        return bucket
