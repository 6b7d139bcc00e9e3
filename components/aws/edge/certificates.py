"""The edge's names and certificates, when it has a domain: ACM certificates for CloudFront (us-east-1, the only
region CloudFront reads) and for the load balancer (the stack's region, `origin.<domain>`), both validated through
DNS records in the domain's Route 53 zone; the users' A and AAAA alias records to the distribution.

The distribution and the load balancer take the *validation's* certificate ARN, so they wait until the
certificate is issued instead of failing on a pending one.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

CLOUDFRONT_REGION = "us-east-1"
# Every CloudFront distribution's hosted zone, for alias records (the distribution's `hosted_zone_id`).
CLOUDFRONT_ZONE_ID = "Z2FDTNDATAQYW2"


def origin_name(domain: str) -> str:
    """The load balancer's name on its certificate: what CloudFront asks the VPC origin for (SNI and Host)."""
    return f"origin.{domain}"


@dataclass(frozen=True, kw_only=True)
class EdgeCertificatesArgs:
    domain: str
    hosted_zone_id: str


class EdgeCertificates(pulumi.ComponentResource):
    cloudfront_certificate_arn: pulumi.Output[str]
    """Validated, in us-east-1."""
    load_balancer_certificate_arn: pulumi.Output[str]
    """Validated, in the stack's region."""

    def __init__(self, name: str, args: EdgeCertificatesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:EdgeCertificates", name, None, opts)
        self.args = args
        self.cloudfront_certificate_arn = self._validated(f"{name}-cloudfront", args.domain, CLOUDFRONT_REGION)
        self.load_balancer_certificate_arn = self._validated(f"{name}-load-balancer", origin_name(args.domain), None)
        self.register_outputs(
            {
                "cloudfrontCertificateArn": self.cloudfront_certificate_arn,
                "loadBalancerCertificateArn": self.load_balancer_certificate_arn,
            }
        )

    def _validated(self, name: str, domain: str, region: str | None) -> pulumi.Output[str]:
        child = pulumi.ResourceOptions(parent=self)
        certificate = aws.acm.Certificate(
            f"{name}-certificate",
            domain_name=domain,
            validation_method="DNS",
            key_algorithm="RSA_2048",
            region=region,
            opts=child,
        )
        # One name, so one validation record.
        option = certificate.domain_validation_options.apply(lambda options: options[0])
        record = aws.route53.Record(
            f"{name}-validation",
            zone_id=self.args.hosted_zone_id,
            name=option.apply(lambda o: o["resource_record_name"]),
            type=option.apply(lambda o: o["resource_record_type"]),
            records=[option.apply(lambda o: o["resource_record_value"])],
            ttl=300,
            allow_overwrite=True,
            opts=child,
        )
        validation = aws.acm.CertificateValidation(
            f"{name}-validation",
            certificate_arn=certificate.arn,
            validation_record_fqdns=[record.fqdn],
            region=region,
            opts=child,
        )
        arn: pulumi.Output[str] = validation.certificate_arn
        return arn

    def origin_record(self, name: str, load_balancer_dns_name: pulumi.Input[str]) -> None:
        """`origin.<domain>` to the internal load balancer: only addresses in the VPC, useless from outside."""
        aws.route53.Record(
            f"{name}-origin",
            zone_id=self.args.hosted_zone_id,
            name=origin_name(self.args.domain),
            type="CNAME",
            records=[load_balancer_dns_name],
            ttl=300,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def alias_records(self, name: str, distribution_domain_name: pulumi.Input[str]) -> None:
        """The domain to the distribution, over IPv4 and IPv6."""
        for record_type in ("A", "AAAA"):
            aws.route53.Record(
                f"{name}-{record_type.lower()}",
                zone_id=self.args.hosted_zone_id,
                name=self.args.domain,
                type=record_type,
                aliases=[
                    {
                        "name": distribution_domain_name,
                        "zone_id": CLOUDFRONT_ZONE_ID,
                        "evaluate_target_health": False,
                    }
                ],
                opts=pulumi.ResourceOptions(parent=self),
            )
