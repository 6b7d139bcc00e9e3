"""The edge's CDN and WAF through Pulumi mocks, built as the AWS layer builds them: the assets bucket with the
distribution's ARN deferred, the WAF, the Cdn. Two shapes: a domain (HTTPS to the load balancer, an ACM certificate,
a protected stack) and none (HTTP inside the VPC, CloudFront's default certificate, a disposable stack)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from components.aws.data.assets_bucket import AssetsBucket, AssetsBucketArgs
from components.aws.edge.cdn import Cdn, CdnArgs, OriginProtocol
from components.aws.edge.web_acl import WebAcl, WebAclArgs
from philosophy_infra import policy_check
from philosophy_infra.config.assets import AssetsEncryption
from philosophy_infra.config.base import DataProtection
from philosophy_infra.config.edge import PriceClass
from philosophy_infra.plan import ACCOUNT_ID, Plan, RecordedResource
from philosophy_infra.release.canary import WEBSOCKET_PATH
from tests.conftest import run

PREFIX, REGION = "philosophy-test", "eu-west-1"
LOAD_BALANCER = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT_ID}:loadbalancer/app/philosophy-test-service/0123"
CERTIFICATE = f"arn:aws:acm:us-east-1:{ACCOUNT_ID}:certificate/validated"
RATE_LIMIT = 1500
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"

# AWS's managed policy ids, written out (not imported): a wrong constant in the component fails here.
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
SECURITY_HEADERS = "67f7725c-6f97-4210-82d7-5512b31e9d03"
CORS_AND_SECURITY_HEADERS = "e61eb60c-9c35-4d20-a928-2b84e02af89c"
SEARCH = "<the search cache policy>"
ALL = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
READ = ["GET", "HEAD"]

# (path, origin, allowed methods, cache policy, origin request policy, response headers policy), in order.
EXPECTED_BEHAVIOURS: list[tuple[str | None, str, list[str], str, str | None, str | None]] = [
    ("/api/concepts/*", "api", ALL, CACHING_DISABLED, ALL_VIEWER_EXCEPT_HOST, CORS_AND_SECURITY_HEADERS),
    ("/api/search/*", "api", READ, SEARCH, None, SECURITY_HEADERS),
    ("/api/*", "api", ALL, CACHING_DISABLED, ALL_VIEWER_EXCEPT_HOST, None),
    ("/ws/*", "api", ALL, CACHING_DISABLED, ALL_VIEWER_EXCEPT_HOST, None),
    ("/ws", "api", ALL, CACHING_DISABLED, ALL_VIEWER_EXCEPT_HOST, None),
    ("/static/*", "assets", READ, CACHING_OPTIMIZED, None, SECURITY_HEADERS),
    (None, "assets", ["GET", "HEAD", "OPTIONS"], CACHING_OPTIMIZED, None, SECURITY_HEADERS),
]


@dataclass(frozen=True)
class Shape:
    name: str
    protocol: OriginProtocol
    certificate: str | None
    data_protection: DataProtection
    encryption: AssetsEncryption = AssetsEncryption.KMS


WITH_DOMAIN = Shape("domain", OriginProtocol.HTTPS, CERTIFICATE, DataProtection.PROTECTED)
WITHOUT_DOMAIN = Shape("no-domain", OriginProtocol.HTTP, None, DataProtection.SNAPSHOT_ONLY)
S3_MANAGED = Shape("s3-managed", OriginProtocol.HTTP, None, DataProtection.SNAPSHOT_ONLY, AssetsEncryption.S3_MANAGED)


def build(shape: Shape) -> Plan:
    def program() -> None:
        # As the AWS layer does: the bucket's policies name the distribution, which needs the bucket first.
        distribution_arn: pulumi.Output[str]
        resolve: Callable[[pulumi.Output[str]], None]
        distribution_arn, resolve = pulumi.deferred_output()
        assets = AssetsBucket(
            "assets",
            AssetsBucketArgs(
                name_prefix=PREFIX,
                encryption=shape.encryption,
                data_protection=shape.data_protection,
                cdn_distribution_arn=distribution_arn,
            ),
        )
        waf = WebAcl(
            "edge-waf",
            WebAclArgs(name_prefix=PREFIX, rate_limit=RATE_LIMIT, data_protection=shape.data_protection),
        )
        https = shape.protocol is OriginProtocol.HTTPS
        cdn = Cdn(
            "cdn",
            CdnArgs(
                name_prefix=PREFIX,
                assets_bucket_domain_name=assets.bucket_regional_domain_name,
                load_balancer_arn=LOAD_BALANCER,
                origin_domain="origin.philosophy.example.org" if https else "internal-lb.eu-west-1.elb.amazonaws.com",
                origin_protocol=shape.protocol,
                vpc_origin_provider=aws.Provider("aws-untagged", region=REGION),
                aliases=["philosophy.example.org"] if shape.certificate else [],
                certificate_arn=shape.certificate,
                web_acl_arn=waf.arn,
                price_class=PriceClass.PRICE_CLASS_200,
                origin_read_timeout_seconds=90,
                origin_shield_region=REGION,
                data_protection=shape.data_protection,
            ),
        )
        resolve(cdn.distribution_arn)

    return run(program, region=REGION)


@pytest.fixture(scope="module", params=[WITH_DOMAIN, WITHOUT_DOMAIN], ids=lambda s: s.name)
def shaped(request: pytest.FixtureRequest) -> tuple[Shape, Plan]:
    shape: Shape = request.param
    return shape, build(shape)


@pytest.fixture(scope="module")
def domain_plan() -> Plan:
    return build(WITH_DOMAIN)


def distribution(plan: Plan) -> RecordedResource:
    return plan.one(DISTRIBUTION)


def distribution_arn(plan: Plan) -> str:
    return f"arn:aws:cloudfront::{ACCOUNT_ID}:distribution/{distribution(plan).id}"


def behaviours(plan: Plan) -> list[dict[str, Any]]:
    inputs = distribution(plan).inputs
    return [*inputs["orderedCacheBehaviors"], {**inputs["defaultCacheBehavior"], "pathPattern": None}]


def statements(resource: RecordedResource, key: str = "policy") -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(resource.inputs[key])["Statement"]
    return found


# --- Behaviours ------------------------------------------------------------------------------------------------


def test_every_behaviour_has_its_path_origin_methods_and_policies(shaped: tuple[Shape, Plan]) -> None:
    _, plan = shaped
    search_policy = plan.one("aws:cloudfront/cachePolicy:CachePolicy").id
    found = [
        (
            b["pathPattern"],
            b["targetOriginId"],
            b["allowedMethods"],
            SEARCH if b["cachePolicyId"] == search_policy else b["cachePolicyId"],
            b.get("originRequestPolicyId"),
            b.get("responseHeadersPolicyId"),
        )
        for b in behaviours(plan)
    ]
    assert found == EXPECTED_BEHAVIOURS
    for b in behaviours(plan):
        assert b["cachedMethods"] == READ
        # No legacy cache settings next to the policies (CloudFront refuses the mix).
        assert not {"forwardedValues", "minTtl", "defaultTtl", "maxTtl"} & set(b)


def test_viewers_use_https_everywhere_and_the_api_is_never_redirected(shaped: tuple[Shape, Plan]) -> None:
    _, plan = shaped
    protocols = {b["pathPattern"]: b["viewerProtocolPolicy"] for b in behaviours(plan)}
    assert set(protocols.values()) <= {"redirect-to-https", "https-only"}
    # A redirect would replay an API POST as a GET.
    assert all(p == "https-only" for path, p in protocols.items() if path and path.startswith(("/api", "/ws")))


def test_compression_only_where_the_cache_key_has_the_encoding(shaped: tuple[Shape, Plan]) -> None:
    _, plan = shaped
    compressed = {b["pathPattern"] for b in behaviours(plan) if b["compress"]}
    assert compressed == {"/api/search/*", "/static/*", None}


def test_each_request_reaches_the_behaviour_meant_for_it(shaped: tuple[Shape, Plan]) -> None:
    """CloudFront takes the first pattern that matches (`*` spans `/`): most specific first, nothing shadowed."""
    _, plan = shaped
    patterns = [b["pathPattern"] for b in behaviours(plan)][:-1]

    def first_match(path: str) -> str | None:
        return next((p for p in patterns if fnmatchcase(path, p)), None)

    for i, pattern in enumerate(patterns):
        sample = pattern.replace("*", "some/thing")
        assert first_match(sample) == pattern, f"{pattern} is shadowed by an earlier {first_match(sample)}"
        assert not any(fnmatchcase(sample, earlier) for earlier in patterns[:i])
    routes = {
        "/api/concepts/popular": "/api/concepts/*",
        "/api/search/results": "/api/search/*",
        "/api/categories/top": "/api/*",  # the seed sent it to the bucket
        WEBSOCKET_PATH: "/ws",  # what the mesh gateway routes to the websocket
        f"{WEBSOCKET_PATH}/chat": "/ws/*",
        "/static/app.3f2a1c.js": "/static/*",
        "/index.html": None,
        "/wsx": None,
    }
    assert {path: first_match(path) for path in routes} == routes


def test_the_search_cache_policy_keys_on_query_language_and_country(shaped: tuple[Shape, Plan]) -> None:
    _, plan = shaped
    policy = plan.one("aws:cloudfront/cachePolicy:CachePolicy").inputs
    assert policy["name"] == f"{PREFIX}-api-search"
    assert (policy["minTtl"], policy["defaultTtl"], policy["maxTtl"]) == (0, 300, 3600)
    key = policy["parametersInCacheKeyAndForwardedToOrigin"]
    assert key["queryStringsConfig"] == {"queryStringBehavior": "all"}
    assert key["headersConfig"] == {
        "headerBehavior": "whitelist",
        "headers": {"items": ["Accept-Language", "CloudFront-Viewer-Country"]},
    }
    assert key["cookiesConfig"] == {"cookieBehavior": "none"}
    assert key["enableAcceptEncodingGzip"] is True and key["enableAcceptEncodingBrotli"] is True


# --- Origins ---------------------------------------------------------------------------------------------------


def test_the_bucket_is_reached_through_origin_access_control_not_an_identity(shaped: tuple[Shape, Plan]) -> None:
    _, plan = shaped
    origins = {o["originId"]: o for o in distribution(plan).inputs["origins"]}
    assert set(origins) == {"assets", "api"}
    control = plan.one("aws:cloudfront/originAccessControl:OriginAccessControl")
    assert control.inputs == {
        "name": f"{PREFIX}-assets",
        "description": f"{PREFIX}: CloudFront reads the assets bucket",
        "originAccessControlOriginType": "s3",
        "signingBehavior": "always",
        "signingProtocol": "sigv4",
    }
    assets = origins["assets"]
    assert assets["originAccessControlId"] == control.id
    assert "s3OriginConfig" not in assets and not plan.of_type(
        "aws:cloudfront/originAccessIdentity:OriginAccessIdentity"
    )
    bucket = plan.one("aws:s3/bucket:Bucket").id
    assert assets["domainName"] == f"{bucket}.s3.{REGION}.amazonaws.com"  # the regional name


def test_the_api_is_reached_through_the_vpc_origin(shaped: tuple[Shape, Plan]) -> None:
    shape, plan = shaped
    api = next(o for o in distribution(plan).inputs["origins"] if o["originId"] == "api")
    vpc_origin = plan.one("aws:cloudfront/vpcOrigin:VpcOrigin")
    assert api["vpcOriginConfig"] == {
        "vpcOriginId": vpc_origin.id,
        "originReadTimeout": 90,
        "originKeepaliveTimeout": 60,
    }
    assert "customOriginConfig" not in api
    expected = "origin.philosophy.example.org" if shape.protocol is OriginProtocol.HTTPS else "internal-lb"
    assert api["domainName"].startswith(expected)


def test_no_origin_has_a_path_and_both_sit_behind_origin_shield(shaped: tuple[Shape, Plan]) -> None:
    _, plan = shaped
    for origin in distribution(plan).inputs["origins"]:
        assert "originPath" not in origin  # the seed's `/api` asked the origin for /api/api/...
        assert origin["originShield"] == {"enabled": True, "originShieldRegion": REGION}


@pytest.mark.parametrize(
    ("shape", "policy", "port_in_use"),
    [(WITH_DOMAIN, "https-only", "httpsPort"), (WITHOUT_DOMAIN, "http-only", "httpPort")],
    ids=["https", "http"],
)
def test_the_vpc_origin_protocol_follows_the_domain(shape: Shape, policy: str, port_in_use: str) -> None:
    endpoint = build(shape).one("aws:cloudfront/vpcOrigin:VpcOrigin").inputs["vpcOriginEndpointConfig"]
    assert endpoint["arn"] == LOAD_BALANCER
    assert endpoint["originProtocolPolicy"] == policy
    assert (endpoint["httpPort"], endpoint["httpsPort"]) == (80, 443) and port_in_use in endpoint
    assert endpoint["originSslProtocols"] == {"items": ["TLSv1.2"], "quantity": 1}
    assert endpoint["name"].startswith(f"{PREFIX}-api-{shape.protocol.value}-")


def test_the_vpc_origin_is_never_updated_in_place(shaped: tuple[Shape, Plan]) -> None:
    """CloudFront refuses any update, tags included, while a distribution uses it."""
    _, plan = shaped
    vpc_origin = plan.one("aws:cloudfront/vpcOrigin:VpcOrigin")
    assert {"tags", "tagsAll"} <= set(vpc_origin.ignore_changes)
    # Its provider carries no default tags (the stack's does): a change of the stack's tags cannot reach it.
    provider = plan.by_urn(vpc_origin.provider or "")
    assert provider.type == "pulumi:providers:aws" and "defaultTags" not in provider.inputs
    assert distribution(plan).provider is None  # everything else inherits the stack's provider
    assert vpc_origin.inputs["timeouts"] == {"create": "30m", "update": "30m", "delete": "30m"}


# --- Viewer side -----------------------------------------------------------------------------------------------


def test_tls_minimum_with_a_certificate() -> None:
    inputs = build(WITH_DOMAIN).one(DISTRIBUTION).inputs
    assert inputs["viewerCertificate"] == {
        "acmCertificateArn": CERTIFICATE,
        "sslSupportMethod": "sni-only",
        "minimumProtocolVersion": "TLSv1.2_2025",
    }
    assert inputs["aliases"] == ["philosophy.example.org"]


def test_the_default_certificate_without_a_domain() -> None:
    inputs = build(WITHOUT_DOMAIN).one(DISTRIBUTION).inputs
    assert inputs["viewerCertificate"] == {"cloudfrontDefaultCertificate": True}
    assert inputs.get("aliases", []) == []


def test_aliases_need_a_certificate() -> None:
    with pytest.raises(ValueError, match="need certificate_arn"):
        Cdn(
            "cdn",
            CdnArgs(
                name_prefix=PREFIX,
                assets_bucket_domain_name="b.s3.eu-west-1.amazonaws.com",
                load_balancer_arn=LOAD_BALANCER,
                origin_domain="origin.philosophy.example.org",
                origin_protocol=OriginProtocol.HTTPS,
                vpc_origin_provider=None,  # type: ignore[arg-type]  # never reached
                aliases=["philosophy.example.org"],
                web_acl_arn="arn",
                origin_shield_region=REGION,
            ),
        )


def test_distribution_settings(shaped: tuple[Shape, Plan]) -> None:
    _, plan = shaped
    resource = distribution(plan)
    inputs = resource.inputs
    assert inputs["enabled"] is True and inputs["httpVersion"] == "http2and3" and inputs["isIpv6Enabled"] is True
    assert inputs["priceClass"] == "PriceClass_200"
    assert inputs["restrictions"] == {"geoRestriction": {"restrictionType": "none"}}
    # Distribution-wide error pages would turn the API's JSON errors into HTML.
    assert "customErrorResponses" not in inputs
    assert "defaultRootObject" not in inputs and "loggingConfig" not in inputs  # v2 logging, not the v1 ACL one
    assert not resource.protect  # it holds no data


def test_the_waf_is_attached(shaped: tuple[Shape, Plan]) -> None:
    _, plan = shaped
    acl = plan.one("aws:wafv2/webAcl:WebAcl")
    assert (
        distribution(plan).inputs["webAclId"]
        == f"arn:aws:wafv2:us-east-1:{ACCOUNT_ID}:global/webacl/{acl.inputs['name']}/{acl.id}"
    )
    assert acl.urn in distribution(plan).dependencies


# --- The bucket and its key ------------------------------------------------------------------------------------


def test_the_bucket_policy_lets_only_this_distribution_read_and_keeps_tls_only(shaped: tuple[Shape, Plan]) -> None:
    _, plan = shaped
    [policy] = plan.of_type("aws:s3/bucketPolicy:BucketPolicy")  # one owner
    bucket = f"arn:aws:s3:::{plan.one('aws:s3/bucket:Bucket').id}"
    found = statements(policy)
    assert {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket, f"{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    } in found
    allows = [s for s in found if s["Effect"] == "Allow"]
    # GetObject only: with ListBucket, `/` on the default behaviour would list every upload's key.
    assert allows == [
        {
            "Sid": "CloudFrontReadsObjects",
            "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject",
            "Resource": f"{bucket}/*",
            "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn(plan)}},
        }
    ]
    assert distribution(plan).urn in policy.dependencies
    # The users' uploads share the bucket, and CloudFront may never read them, whatever path asks.
    assert {
        "Sid": "UploadsAreNotServed",
        "Effect": "Deny",
        "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": "s3:GetObject",
        "Resource": f"{bucket}/uploads/*",
    } in found


def test_the_key_policy_lets_only_this_distribution_decrypt(shaped: tuple[Shape, Plan]) -> None:
    _, plan = shaped
    key = plan.one("aws:kms/key:Key", "assets-key")
    assert "policy" not in key.inputs  # the KeyPolicy owns it
    key_policy = plan.one("aws:kms/keyPolicy:KeyPolicy")
    assert key_policy.parent == key.urn and distribution(plan).urn in key_policy.dependencies
    assert statements(key_policy) == [
        {
            "Sid": "AccountAdministersKeyThroughIam",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "CloudFrontDecryptsObjects",
            "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn(plan)}},
        },
    ]


def test_an_s3_managed_bucket_has_no_key_to_grant() -> None:
    plan = build(S3_MANAGED)
    assert not plan.of_type("aws:kms/keyPolicy:KeyPolicy")
    [policy] = plan.of_type("aws:s3/bucketPolicy:BucketPolicy")
    assert any(s.get("Sid") == "CloudFrontReadsObjects" for s in statements(policy))


def test_without_a_cdn_the_bucket_grants_cloudfront_nothing() -> None:
    plan = run(lambda: AssetsBucket("assets", AssetsBucketArgs(name_prefix=PREFIX)), region=REGION)
    for resource in (plan.one("aws:s3/bucketPolicy:BucketPolicy"), plan.one("aws:kms/keyPolicy:KeyPolicy")):
        assert "cloudfront" not in resource.inputs["policy"]


# --- WAF -------------------------------------------------------------------------------------------------------


def test_the_waf_rules_rate_limit_first_then_the_managed_groups(domain_plan: Plan) -> None:
    acl = domain_plan.one("aws:wafv2/webAcl:WebAcl").inputs
    assert acl["scope"] == "CLOUDFRONT" and acl["region"] == "us-east-1"
    assert acl["defaultAction"] == {"allow": {}}
    rules = sorted(acl["rules"], key=lambda r: r["priority"])
    assert [r["priority"] for r in rules] == [0, 1, 2, 3, 4]
    assert [r["name"] for r in rules] == [
        "rate-limit-per-ip",
        "AWSManagedRulesAmazonIpReputationList",
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesSQLiRuleSet",
    ]
    rate = rules[0]
    assert rate["action"] == {"block": {}}
    assert rate["statement"]["rateBasedStatement"] == {
        "limit": RATE_LIMIT,
        "aggregateKeyType": "IP",
        "evaluationWindowSec": 300,
    }
    for rule in rules[1:]:
        assert rule["overrideAction"] == {"none": {}}
        group = rule["statement"]["managedRuleGroupStatement"]
        assert group["vendorName"] == "AWS" and group["name"] == rule["name"]
    for visibility in [acl["visibilityConfig"], *(r["visibilityConfig"] for r in rules)]:
        assert visibility["cloudwatchMetricsEnabled"] is True and visibility["sampledRequestsEnabled"] is True


def test_long_prompts_are_counted_not_blocked(domain_plan: Plan) -> None:
    rules = domain_plan.one("aws:wafv2/webAcl:WebAcl").inputs["rules"]
    overrides = {
        r["name"]: r["statement"]["managedRuleGroupStatement"].get("ruleActionOverrides")
        for r in rules
        if "managedRuleGroupStatement" in r["statement"]
    }
    assert overrides.pop("AWSManagedRulesCommonRuleSet") == [
        {"name": "SizeRestrictions_BODY", "actionToUse": {"count": {}}}
    ]
    assert set(overrides.values()) == {None}  # every other managed rule keeps its action


def test_waf_logs_go_to_an_encrypted_aws_waf_logs_group_in_us_east_1(domain_plan: Plan) -> None:
    group = domain_plan.one("aws:cloudwatch/logGroup:LogGroup", "edge-waf-logs")
    assert group.inputs["name"] == f"aws-waf-logs-{PREFIX}" and group.inputs["region"] == "us-east-1"
    assert group.inputs["retentionInDays"] == 365
    key = domain_plan.one("aws:kms/key:Key", "edge-waf-logs-key")
    assert key.inputs["region"] == "us-east-1" and key.inputs["enableKeyRotation"] is True and key.protect
    assert group.inputs["kmsKeyId"].startswith(f"arn:aws:kms:us-east-1:{ACCOUNT_ID}:key/{key.name}-")
    [logs_statement] = [s for s in statements(key) if s["Principal"] != {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}]
    assert logs_statement["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    assert logs_statement["Condition"]["ArnLike"] == {
        "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:us-east-1:{ACCOUNT_ID}:log-group:aws-waf-logs-{PREFIX}*"
    }
    logging = domain_plan.one("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration").inputs
    assert logging["region"] == "us-east-1"
    assert logging["logDestinationConfigs"] == [f"arn:aws:logs:us-east-1:{ACCOUNT_ID}:log-group:aws-waf-logs-{PREFIX}"]
    assert logging["resourceArn"] == domain_plan.one(DISTRIBUTION).inputs["webAclId"]
    assert logging["redactedFields"] == [
        {"singleHeader": {"name": "authorization"}},
        {"singleHeader": {"name": "cookie"}},
    ]


# --- Access logs -----------------------------------------------------------------------------------------------


def test_access_logs_use_standard_logging_v2_to_an_encrypted_group_in_us_east_1(shaped: tuple[Shape, Plan]) -> None:
    shape, plan = shaped
    source = plan.one("aws:cloudwatch/logDeliverySource:LogDeliverySource").inputs
    destination = plan.one("aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination").inputs
    delivery = plan.one("aws:cloudwatch/logDelivery:LogDelivery").inputs
    assert {source["region"], destination["region"], delivery["region"]} == {"us-east-1"}
    assert source["logType"] == "ACCESS_LOGS" and source["resourceArn"] == distribution_arn(plan)
    group = plan.one("aws:cloudwatch/logGroup:LogGroup", "cdn-access-logs")
    assert group.inputs["region"] == "us-east-1" and group.inputs["kmsKeyId"].startswith("arn:aws:kms:us-east-1:")
    assert group.inputs["retentionInDays"] == (365 if shape.data_protection is DataProtection.PROTECTED else 30)
    assert destination["deliveryDestinationConfiguration"] == {
        "destinationResourceArn": f"arn:aws:logs:us-east-1:{ACCOUNT_ID}:log-group:{group.inputs['name']}"
    }
    assert delivery["deliverySourceName"] == source["name"]
    # AWS's log delivery may write to the group, for this account only.
    [write] = statements(plan.one("aws:cloudwatch/logResourcePolicy:LogResourcePolicy", "cdn-access-logs-delivery"),
                         "policyDocument")  # fmt: skip
    assert write["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
    assert write["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT_ID}


# --- The policy pack -------------------------------------------------------------------------------------------


def test_the_policy_pack_finds_nothing(shaped: tuple[Shape, Plan]) -> None:
    shape, plan = shaped
    protected = shape.data_protection is DataProtection.PROTECTED
    config = {name: {"protectedStack": protected} for name in policy_check.PROTECTED_STACK_POLICIES}
    assert policy_check.evaluate_plan(plan, config=config) == []
