"""The CloudFront distribution in front of the assets bucket and the service: the seed's CDN (section 3.2), with its
bugs fixed.

Two origins, both behind Origin Shield in the stack's region (every edge location's misses collapse into one
regional cache, which replaces the seed's cache warmer):
- `assets`: the bucket, through origin access control (SigV4, always signed; never a legacy origin access identity),
  by its regional name. The bucket and key policies that let this distribution read are the AssetsBucket's.
- `api`: the service, through a CloudFront VPC origin on its internal load balancer (never on the internet), with
  the read timeout from config (LLM answers stream: the timeout is per read, not for the whole answer) and
  keep-alive.

Behaviours, most specific first (CloudFront takes the first pattern that matches):

| Path | Origin | Methods | Cache | Origin request | Response headers |
|---|---|---|---|---|---|
| `/api/concepts/*` | api | all | CachingDisabled | AllViewerExceptHostHeader | CORS-and-SecurityHeaders |
| `/api/search/*` | api | GET, HEAD | `<prefix>-api-search` (0/300/3600 s) | (the cache policy's) | SecurityHeaders |
| `/api/*` | api | all | CachingDisabled | AllViewerExceptHostHeader | none |
| `/ws/*`, `/ws` | api | all | CachingDisabled | AllViewerExceptHostHeader | none |
| `/static/*` | assets | GET, HEAD | CachingOptimized | none | SecurityHeaders |
| default | assets | GET, HEAD, OPTIONS | CachingOptimized | none | SecurityHeaders |

- AllViewerExceptHostHeader forwards every viewer header, cookie and query string, and sends the origin's own name
  as Host, which the load balancer's certificate and the mesh gateway match. With caching off that includes
  `Authorization` (AWS re:Post, cloudfront-authorization-header; an origin request policy that *names* it is refused
  with a 400) and the websocket's `Upgrade` and `Sec-WebSocket-*` headers.
- `/api/search/*` reaches the origin with only what its cache key holds: no `Authorization`, no cookies. Its
  answers are shared by everyone who asks the same query, language and country, so search must stay public.
- Viewers: `redirect-to-https` where browsers load pages and files, `https-only` on the API and the websocket
  (a redirect would turn a POST into a GET; an API client on plain HTTP is a bug to surface, not follow).
- No `origin_path`: the seed's `/api` made CloudFront ask the origin for `/api/api/...`.
- No custom error responses. They are distribution-wide: a 404 or 500 page would replace the API's JSON errors with
  HTML. The API answers its own errors; a missing asset is S3's 403 (CloudFront may not list the bucket).
- TLS: with a certificate (a domain), the validated ACM certificate in us-east-1, SNI only, `TLSv1.2_2025` (TLS 1.2
  with AEAD ciphers only, and 1.3). Without one, CloudFront's default `*.cloudfront.net` certificate, whose TLS
  policy CloudFront sets (it accepts TLS 1.0): unprotected stacks only (the policy pack's `cloudfront-tls-minimum`).
- HTTP/2 and HTTP/3, IPv6, the configured price class, the WAF web ACL.
- Access logs: standard logging v2 (a delivery source, destination and delivery, all in us-east-1, where CloudFront
  delivers them) to a KMS-encrypted CloudWatch log group in us-east-1, as JSON. A log group rather than a bucket: it
  needs no second bucket with its own policy, key grants and lifecycle; its retention and key are the same helper's
  as the WAF's logs; and Logs Insights queries it where incidents are investigated. At high volume a bucket (Parquet)
  costs less to ingest; the destination is one resource to change.
- Not `protect`ed: the distribution holds no data, and everything it is rebuilds from code. A replacement changes
  only its `*.cloudfront.net` name, which the alias records follow; it is deleted before its replacement is
  created, because two distributions cannot share an alias (almost nothing of a distribution forces one).

The VPC origin's traps:
- CloudFront refuses any update to a VPC origin while a distribution uses it (409, even for tags). Its tags are
  set once and ignored afterwards, and the provider that creates it has no default tags (the AWS provider has no
  per-resource opt-out from them: a change of the stack's tags would otherwise fail every deploy).
- A change of its endpoint (the load balancer, the protocol) replaces it instead: Pulumi creates the new one, moves
  the distribution to it, then deletes the old one. Its name carries a hash of the endpoint, so the two can coexist.
- Creating (and deleting) one takes up to ~15 minutes, the provider's default timeout: the timeouts are 30.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws.edge.certificates import CLOUDFRONT_REGION
from components.aws.edge.edge_logs import edge_log_group
from philosophy_infra.config.base import DataProtection
from philosophy_infra.config.edge import PriceClass

# AWS's managed policies: the same ids in every account, written here because the offline plan cannot look them up.
# Sources: the CloudFront Developer Guide's using-managed-cache-policies, using-managed-origin-request-policies and
# using-managed-response-headers-policies pages, and aws-cdk's constants for them (aws-cdk-lib/aws-cloudfront/lib/
# cache-policy.ts CACHING_OPTIMIZED/CACHING_DISABLED, origin-request-policy.ts ALL_VIEWER_EXCEPT_HOST_HEADER,
# response-headers-policy.ts SECURITY_HEADERS/CORS_ALLOW_ALL_ORIGINS_AND_SECURITY_HEADERS).
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
"""Managed-CachingOptimized: TTL 1 s / 1 day / 1 year, gzip and brotli, no query strings, cookies or headers."""
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
"""Managed-CachingDisabled: TTL 0."""
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
"""Managed-AllViewerExceptHostHeader: every viewer header but Host, every cookie and query string."""
SECURITY_HEADERS = "67f7725c-6f97-4210-82d7-5512b31e9d03"
"""Managed-SecurityHeadersPolicy: HSTS, nosniff, X-Frame-Options SAMEORIGIN, Referrer-Policy, X-XSS-Protection."""
CORS_AND_SECURITY_HEADERS = "e61eb60c-9c35-4d20-a928-2b84e02af89c"
"""Managed-CORS-and-SecurityHeadersPolicy: simple CORS from any origin, and the security headers."""

ALL_METHODS = ("GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE")
READ = ("GET", "HEAD")
READ_AND_PREFLIGHT = ("GET", "HEAD", "OPTIONS")
ASSETS, API = "assets", "api"
SEARCH_CACHE_POLICY = "search"
"""Stands for the custom cache policy in `behaviours()`, whose id is known only once it exists."""
ORIGIN_KEEPALIVE_SECONDS = 60
"""The most CloudFront allows without a quota increase; the load balancer's idle timeout is longer, so CloudFront,
not the load balancer, closes idle connections."""
VPC_ORIGIN_TIMEOUT = "30m"


class OriginProtocol(StrEnum):
    """How CloudFront's VPC origin talks to the load balancer. Either way the traffic stays inside AWS's network:
    a VPC origin reaches the load balancer from CloudFront's own interfaces in the VPC, never over the internet."""

    HTTPS = "https"
    """Port 443, with a domain: the load balancer serves the certificate of `origin.<domain>`."""
    HTTP = "http"
    """Port 80, without a domain: no public certificate can name an internal load balancer."""


@dataclass(frozen=True)
class Behaviour:
    path: str | None
    """None: the default behaviour."""
    origin: str
    allowed_methods: tuple[str, ...]
    cache_policy: str
    origin_request_policy: str | None
    response_headers_policy: str | None
    viewer_protocol: str
    compress: bool


def behaviours() -> list[Behaviour]:
    """The ordered behaviours, then the default one (path None): most specific first, since CloudFront takes the
    first match. `SEARCH_CACHE_POLICY` stands for the custom cache policy."""

    def api(path: str, methods: tuple[str, ...], cache: str, request: str | None, headers: str | None) -> Behaviour:
        # Compression needs a cache policy that keys on Accept-Encoding; an uncached stream is sent as it comes.
        return Behaviour(path, API, methods, cache, request, headers, "https-only", compress=cache != CACHING_DISABLED)

    def assets(path: str | None, methods: tuple[str, ...]) -> Behaviour:
        return Behaviour(path, ASSETS, methods, CACHING_OPTIMIZED, None, SECURITY_HEADERS, "redirect-to-https", True)

    return [
        api("/api/concepts/*", ALL_METHODS, CACHING_DISABLED, ALL_VIEWER_EXCEPT_HOST_HEADER, CORS_AND_SECURITY_HEADERS),
        # The cache policy forwards what its key holds; an origin request policy would only add to that.
        api("/api/search/*", READ, SEARCH_CACHE_POLICY, None, SECURITY_HEADERS),
        # The rest of the API, which the seed sent to the bucket.
        api("/api/*", ALL_METHODS, CACHING_DISABLED, ALL_VIEWER_EXCEPT_HOST_HEADER, None),
        # The websocket gateway, which the seed had no behaviour for: `/ws` and below, as the mesh gateway routes
        # it (philosophy_infra.release.canary.WEBSOCKET_PATH; `/ws/*` alone would send `/ws` itself to the bucket).
        api("/ws/*", ALL_METHODS, CACHING_DISABLED, ALL_VIEWER_EXCEPT_HOST_HEADER, None),
        api("/ws", ALL_METHODS, CACHING_DISABLED, ALL_VIEWER_EXCEPT_HOST_HEADER, None),
        # Fingerprinted files: CachingOptimized's day by default and year at most are the seed's TTLs.
        assets("/static/*", READ),
        assets(None, READ_AND_PREFLIGHT),
    ]


@dataclass(frozen=True, kw_only=True)
class CdnArgs:
    name_prefix: str
    """e.g. `philosophy-prod`: names what must be unique in the account (OAC, cache policy, VPC origin, logs)."""
    assets_bucket_domain_name: pulumi.Input[str]
    """The assets bucket's regional domain name (AssetsBucket's `bucket_regional_domain_name`)."""
    load_balancer_arn: pulumi.Input[str]
    """The service's internal load balancer, the VPC origin's endpoint."""
    origin_domain: pulumi.Input[str]
    """The name CloudFront asks the load balancer for (SNI and Host): `origin.<domain>` with a domain (the load
    balancer's certificate names it), the load balancer's DNS name without."""
    origin_protocol: OriginProtocol
    vpc_origin_provider: pulumi.ProviderResource
    """The stack's AWS provider without `default_tags`, for the VPC origin alone (see the module's docstring)."""
    aliases: Sequence[str] = ()
    """The names the distribution answers on besides its own (`edge.domain`); they need `certificate_arn`."""
    certificate_arn: pulumi.Input[str] | None = None
    """The *validated* certificate (us-east-1) of the aliases: the validation's ARN, so the distribution waits until
    it is issued. None: CloudFront's default certificate."""
    web_acl_arn: pulumi.Input[str]
    price_class: PriceClass = PriceClass.PRICE_CLASS_100
    origin_read_timeout_seconds: int = 60
    """Per read from the origin (first byte, then between bytes); above 60 needs a CloudFront quota increase."""
    origin_shield_region: str
    """The stack's region: the shield sits next to the origins."""
    data_protection: DataProtection = DataProtection.PROTECTED
    """Sets the access logs' retention and protects their key."""


class Cdn(pulumi.ComponentResource):
    distribution_id: pulumi.Output[str]
    distribution_arn: pulumi.Output[str]
    """What the assets bucket and key policies name (`AWS:SourceArn`)."""
    domain_name: pulumi.Output[str]
    """`<id>.cloudfront.net`: the alias records' target, or the service's address without a domain."""
    hosted_zone_id: pulumi.Output[str]
    vpc_origin: aws.cloudfront.VpcOrigin
    """The load balancer admits the security group CloudFront creates with it."""

    def __init__(self, name: str, args: CdnArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        # Before anything is registered.
        if args.aliases and args.certificate_arn is None:
            raise ValueError(f"aliases {list(args.aliases)} need certificate_arn: the default certificate names none")
        if not 1 <= args.origin_read_timeout_seconds <= 120:
            raise ValueError(f"origin_read_timeout_seconds must be 1-120, got {args.origin_read_timeout_seconds}")
        super().__init__("philosophy:index:Cdn", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        prefix = args.name_prefix

        self.vpc_origin = self._vpc_origin(name, args)
        access_control = aws.cloudfront.OriginAccessControl(
            f"{name}-assets-access",
            name=f"{prefix}-assets",
            description=f"{prefix}: CloudFront reads the assets bucket",
            origin_access_control_origin_type="s3",
            signing_behavior="always",
            signing_protocol="sigv4",
            opts=child,
        )
        search = aws.cloudfront.CachePolicy(
            f"{name}-api-search",
            name=f"{prefix}-api-search",
            comment=f"{prefix}: /api/search/* results, by query, language and country",
            min_ttl=0,
            default_ttl=300,
            max_ttl=3600,
            parameters_in_cache_key_and_forwarded_to_origin={
                "query_strings_config": {"query_string_behavior": "all"},
                "headers_config": {
                    "header_behavior": "whitelist",
                    "headers": {"items": ["Accept-Language", "CloudFront-Viewer-Country"]},
                },
                "cookies_config": {"cookie_behavior": "none"},
                "enable_accept_encoding_gzip": True,
                "enable_accept_encoding_brotli": True,
            },
            opts=child,
        )
        shield: aws.cloudfront.DistributionOriginOriginShieldArgsDict = {
            "enabled": True,
            "origin_shield_region": args.origin_shield_region,
        }
        # Plain data (tested as such): the SDK's typed dicts have the same keys.
        built: list[Any] = [_behaviour_args(b, search.id) for b in behaviours()]
        [*ordered, default] = built
        del default["path_pattern"]
        viewer_certificate: Any = (
            {
                "acm_certificate_arn": args.certificate_arn,
                "ssl_support_method": "sni-only",
                "minimum_protocol_version": "TLSv1.2_2025",
            }
            if args.certificate_arn is not None
            # CloudFront's own TLS policy applies to its default certificate; it takes no minimum.
            else {"cloudfront_default_certificate": True}
        )
        origins: list[aws.cloudfront.DistributionOriginArgsDict] = [
            {
                "origin_id": ASSETS,
                "domain_name": args.assets_bucket_domain_name,
                "origin_access_control_id": access_control.id,
                "origin_shield": shield,
            },
            {
                "origin_id": API,
                "domain_name": args.origin_domain,
                "vpc_origin_config": {
                    "vpc_origin_id": self.vpc_origin.id,
                    "origin_read_timeout": args.origin_read_timeout_seconds,
                    "origin_keepalive_timeout": ORIGIN_KEEPALIVE_SECONDS,
                },
                "origin_shield": shield,
            },
        ]
        restrictions: aws.cloudfront.DistributionRestrictionsArgsDict = {
            "geo_restriction": {"restriction_type": "none"}
        }
        distribution = aws.cloudfront.Distribution(
            f"{name}-distribution",
            comment=f"{prefix}: assets and the service",
            enabled=True,
            aliases=list(args.aliases),
            origins=origins,
            ordered_cache_behaviors=ordered,
            default_cache_behavior=default,
            http_version="http2and3",
            is_ipv6_enabled=True,
            price_class=args.price_class.value,
            web_acl_id=args.web_acl_arn,
            viewer_certificate=viewer_certificate,
            restrictions=restrictions,
            tags={"Name": f"{prefix}-cdn"},
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self._access_logs(name, args, distribution)

        self.distribution_id = distribution.id
        self.distribution_arn = distribution.arn
        self.domain_name = distribution.domain_name
        self.hosted_zone_id = distribution.hosted_zone_id
        self.register_outputs(
            {
                "distributionId": self.distribution_id,
                "distributionArn": self.distribution_arn,
                "domainName": self.domain_name,
                "hostedZoneId": self.hosted_zone_id,
            }
        )

    def _vpc_origin(self, name: str, args: CdnArgs) -> aws.cloudfront.VpcOrigin:
        https = args.origin_protocol is OriginProtocol.HTTPS
        protocol = args.origin_protocol.value
        return aws.cloudfront.VpcOrigin(
            f"{name}-api-origin",
            vpc_origin_endpoint_config={
                "name": pulumi.Output.from_input(args.load_balancer_arn).apply(
                    lambda arn: f"{args.name_prefix}-api-{protocol}-{hashlib.sha256(arn.encode()).hexdigest()[:8]}"
                ),
                "arn": args.load_balancer_arn,
                "http_port": 80,
                "https_port": 443,
                "origin_protocol_policy": "https-only" if https else "http-only",
                # Required even for HTTP; TLS 1.2 and up when it is used.
                "origin_ssl_protocols": {"items": ["TLSv1.2"], "quantity": 1},
            },
            tags={"Name": f"{args.name_prefix}-api"},
            timeouts={"create": VPC_ORIGIN_TIMEOUT, "update": VPC_ORIGIN_TIMEOUT, "delete": VPC_ORIGIN_TIMEOUT},
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=args.vpc_origin_provider,
                ignore_changes=["tags", "tagsAll"],
                replace_on_changes=["vpcOriginEndpointConfig"],
            ),
        )

    def _access_logs(self, name: str, args: CdnArgs, distribution: aws.cloudfront.Distribution) -> None:
        """Standard logging v2: the distribution's access logs (a source), the log group (a destination), and the
        delivery between them; CloudFront's log delivery lives in us-east-1."""
        prefix = args.name_prefix
        logs = edge_log_group(
            f"{name}-access-logs",
            log_group_name=f"/aws/vendedlogs/cloudfront/{prefix}",
            description=f"{prefix}: the CloudFront distribution's access logs",
            alias=f"{prefix}-cdn-logs",
            data_protection=args.data_protection,
            parent=self,
        )
        on_logs = pulumi.ResourceOptions(parent=logs.group)
        source = aws.cloudwatch.LogDeliverySource(
            f"{name}-access-logs-source",
            name=f"{prefix}-cdn",
            log_type="ACCESS_LOGS",
            resource_arn=distribution.arn,
            region=CLOUDFRONT_REGION,
            opts=on_logs,
        )
        destination = aws.cloudwatch.LogDeliveryDestination(
            f"{name}-access-logs-destination",
            name=f"{prefix}-cdn-logs",
            output_format="json",
            delivery_destination_configuration={"destination_resource_arn": logs.group.arn},
            region=CLOUDFRONT_REGION,
            opts=on_logs,
        )
        aws.cloudwatch.LogDelivery(
            f"{name}-access-logs-delivery",
            delivery_source_name=source.name,
            delivery_destination_arn=destination.arn,
            region=CLOUDFRONT_REGION,
            opts=pulumi.ResourceOptions(parent=logs.group, depends_on=[logs.delivery_policy]),
        )


def _behaviour_args(behaviour: Behaviour, search_cache_policy_id: pulumi.Input[str]) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "path_pattern": behaviour.path,
        "target_origin_id": behaviour.origin,
        "viewer_protocol_policy": behaviour.viewer_protocol,
        "allowed_methods": list(behaviour.allowed_methods),
        "cached_methods": list(READ),
        "cache_policy_id": search_cache_policy_id
        if behaviour.cache_policy == SEARCH_CACHE_POLICY
        else behaviour.cache_policy,
        "compress": behaviour.compress,
    }
    if behaviour.origin_request_policy is not None:
        arguments["origin_request_policy_id"] = behaviour.origin_request_policy
    if behaviour.response_headers_policy is not None:
        arguments["response_headers_policy_id"] = behaviour.response_headers_policy
    return arguments
