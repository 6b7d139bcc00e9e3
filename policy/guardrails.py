"""The secure defaults philosophy-infra promises, as pulumi-policy policies.

One implementation for both entry points:
- the real engine: `policy/__main__.py` builds the `PolicyPack` from `ALL_POLICIES`, and
  `pulumi preview|up --policy-pack policy` runs it;
- the offline plan: `philosophy_infra.policy_check` loads this file by path and drives the same `validate`
  callbacks with `ResourceValidationArgs` / `StackValidationArgs` built from the recorded resources.

Rules of this module:
- it imports only the standard library and `pulumi_policy`, so the pack runs in its own virtualenv;
- importing it has no side effect: it only builds policy objects (no server, no I/O);
- every policy has an id (its `name`), a description and a remediation, and is mandatory; an advisory policy
  needs a written reason in `ADVISORY_REASONS`;
- values that are unknown during a preview (or secret in the offline plan) never cause a violation: a check
  that needs one is skipped, and runs again when the engine knows the value.

Resource policies see a resource's inputs (camelCase, as the program sends them, including the inputs of
remote components such as pulumi-eks's `eks:index:Cluster`). Stack policies see every resource of the stack
with its options (`protect`) and, in a real run, its outputs.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)

PACK_NAME = "philosophy-guardrails"

# --- Values as the engine hands them -------------------------------------------------------------------------


class _Unknown:
    """A value the engine does not know yet (a preview), or that the offline plan masks (a secret)."""

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN: Any = _Unknown()
_SENTINELS = frozenset(
    {
        UNKNOWN_ARCHIVE_VALUE,
        UNKNOWN_ARRAY_VALUE,
        UNKNOWN_ASSET_VALUE,
        UNKNOWN_BOOLEAN_VALUE,
        UNKNOWN_NUMBER_VALUE,
        UNKNOWN_OBJECT_VALUE,
        UNKNOWN_STRING_VALUE,
    }
)


def plain(value: Any) -> Any:
    """Props (the SDK's unknown-checking proxies, or plain data) as plain dicts and lists, each unknown value
    replaced by `UNKNOWN`. Reading a proxy never raises here, so one unknown field skips only its own check."""
    if isinstance(value, str):
        return UNKNOWN if value in _SENTINELS else value
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for key in list(value):  # iterating a proxy's keys never reads its values
            try:
                result[str(key)] = plain(value[key])
            except UnknownValueError:
                result[str(key)] = UNKNOWN
        return result
    if isinstance(value, Sequence):
        items: list[Any] = []
        for index in range(len(value)):
            try:
                items.append(plain(value[index]))
            except UnknownValueError:
                items.append(UNKNOWN)
        return items
    return value


def dig(value: Any, *path: str) -> Any:
    """`value[path[0]][path[1]]…` of plain data: None where a step is absent, `UNKNOWN` where one is unknown."""
    for key in path:
        if value is UNKNOWN:
            return UNKNOWN
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def is_true(value: Any) -> bool:
    """Known and true (some providers send booleans as strings, e.g. a launch template's `encrypted`)."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def is_false(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.strip().lower() == "false")


def is_unknown(value: Any) -> bool:
    """Unknown, or a container holding an unknown anywhere: a check on it cannot decide yet."""
    if value is UNKNOWN:
        return True
    if isinstance(value, Mapping):
        return any(is_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(is_unknown(v) for v in value)
    return False


def as_list(value: Any) -> list[Any]:
    """A list field: absent or null is empty; anything else not a list is a one-item list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def is_world(cidr: Any) -> bool:
    """0.0.0.0/0, ::/0, or any other network with prefix length 0 (every address)."""
    if not isinstance(cidr, str):
        return False
    try:
        return ipaddress.ip_network(cidr.strip(), strict=False).prefixlen == 0
    except ValueError:
        return False


def set_text(value: Any) -> bool:
    """A non-empty string (an ARN, an id)."""
    return isinstance(value, str) and bool(value.strip())


# --- How a policy is declared -----------------------------------------------------------------------------------

Props = dict[str, Any]
ResourceCheck = Callable[[Props, ResourceValidationArgs], Iterable[str]]
StackCheck = Callable[[list["StackResource"], Mapping[str, Any]], Iterable[tuple[str, str | None]]]

ADVISORY_REASONS: dict[str, str] = {}
"""Why each advisory policy is not mandatory, by policy name. Every other policy is mandatory."""


def _level(name: str, advisory_reason: str | None) -> EnforcementLevel:
    if advisory_reason is None:
        return EnforcementLevel.MANDATORY
    if len(advisory_reason.split()) < 5:
        raise ValueError(f"policy {name}: an advisory policy needs a written reason, not {advisory_reason!r}")
    ADVISORY_REASONS[name] = advisory_reason
    return EnforcementLevel.ADVISORY


def resource_policy(
    name: str,
    description: str,
    *,
    remediation: str,
    types: Iterable[str],
    advisory_reason: str | None = None,
) -> Callable[[ResourceCheck], ResourceValidationPolicy]:
    """A resource policy from a check of one resource's plain inputs: each message it yields is a violation."""
    applies_to = frozenset(types)
    level = _level(name, advisory_reason)

    def build(check: ResourceCheck) -> ResourceValidationPolicy:
        def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
            if args.resource_type not in applies_to:
                return
            props = plain(args.props)
            for message in check(props if isinstance(props, dict) else {}, args):
                report_violation(message, None)

        return ResourceValidationPolicy(
            name=name,
            description=description,
            validate=validate,
            enforcement_level=level,
            remediation_steps=remediation,
        )

    return build


class StackResource:
    """A resource of the stack as a stack check sees it: plain props, the SDK's resource for the rest."""

    def __init__(self, resource: PolicyResource) -> None:
        self.resource = resource
        self.type: str = resource.resource_type
        self.urn: str = resource.urn
        self.name: str = resource.name
        self.props: Props = plain(resource.props) if isinstance(resource.props, Mapping) else {}
        self.protect = bool(resource.opts.protect)

    def references(self, other: StackResource, prop: str) -> bool:
        """Whether input `prop` of this resource names `other`: by the engine's property dependencies, else by
        the name both carry (outputs in a real run), else by a dependency (the offline plan's inputs)."""
        by_property = self.resource.property_dependencies.get(prop) or []
        if by_property:
            return any(dep.urn == other.urn for dep in by_property)
        mine, theirs = self.props.get(prop), other.props.get(prop)
        if isinstance(mine, str) and isinstance(theirs, str):
            return mine == theirs
        return any(dep.urn == other.urn for dep in self.resource.dependencies)


def stack_policy(
    name: str,
    description: str,
    *,
    remediation: str,
    config_schema: PolicyConfigSchema | None = None,
) -> Callable[[StackCheck], StackValidationPolicy]:
    """A stack policy from a check of all the stack's resources: each (message, urn) it yields is a violation."""

    def build(check: StackCheck) -> StackValidationPolicy:
        def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
            resources = [StackResource(r) for r in args.resources]
            for message, urn in check(resources, args.get_config() or {}):
                report_violation(message, urn)

        return StackValidationPolicy(
            name=name,
            description=description,
            validate=validate,
            enforcement_level=EnforcementLevel.MANDATORY,
            config_schema=config_schema,
            remediation_steps=remediation,
        )

    return build


PROTECTED_STACK_SCHEMA = PolicyConfigSchema(
    properties={
        "protectedStack": {
            "type": "boolean",
            "default": True,
            "description": "The stack's dataProtection is `protected` (prod). Pass false for snapshotOnly stacks.",
        }
    }
)


# --- Databases and caches ---------------------------------------------------------------------------------------

RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_CLUSTER = "aws:rds/cluster:Cluster"
RDS_CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"


@resource_policy(
    "database-not-public",
    "No database is reachable from the internet.",
    remediation="Leave `publicly_accessible` off (its default); clients reach the database from inside the VPC.",
    types=(RDS_INSTANCE, RDS_CLUSTER_INSTANCE),
)
def database_not_public(props: Props, args: ResourceValidationArgs) -> Iterator[str]:
    if is_true(props.get("publiclyAccessible")):
        yield "publiclyAccessible is true: the instance gets a public address and DNS name"


@resource_policy(
    "database-encrypted-at-rest",
    "Database storage is encrypted at rest.",
    remediation="Set `storage_encrypted=True` with the database's own KMS key (`kms_key_id`). Encryption cannot "
    "be turned on later: the instance is replaced, from a snapshot copy made with the key.",
    types=(RDS_INSTANCE, RDS_CLUSTER),
)
def database_encrypted_at_rest(props: Props, args: ResourceValidationArgs) -> Iterator[str]:
    encrypted = props.get("storageEncrypted")
    if encrypted is not UNKNOWN and not is_true(encrypted):
        yield "storageEncrypted is not true: storage, snapshots and replicas would be unencrypted"


_TLS_PARAMETERS = {
    # family prefix: (parameter, accepted values)
    "postgres": ("rds.force_ssl", {"1"}),
    "aurora-postgresql": ("rds.force_ssl", {"1"}),
    "mysql": ("require_secure_transport", {"1", "on"}),
    "aurora-mysql": ("require_secure_transport", {"1", "on"}),
    "mariadb": ("require_secure_transport", {"1", "on"}),
}


@resource_policy(
    "database-tls-required",
    "Database parameter groups refuse connections without TLS.",
    remediation="Add the parameter `rds.force_ssl = 1` (PostgreSQL) or `require_secure_transport = 1` (MySQL, "
    "MariaDB) to the parameter group; clients connect with `sslmode=require` or stricter.",
    types=("aws:rds/parameterGroup:ParameterGroup", "aws:rds/clusterParameterGroup:ClusterParameterGroup"),
)
def database_tls_required(props: Props, args: ResourceValidationArgs) -> Iterator[str]:
    family = props.get("family")
    if not isinstance(family, str):
        return
    rule = next((rule for prefix, rule in _TLS_PARAMETERS.items() if family.startswith(prefix)), None)
    parameters = props.get("parameters")
    if rule is None or is_unknown(parameters):
        return
    parameter, accepted = rule
    values = [p.get("value") for p in as_list(parameters) if isinstance(p, dict) and p.get("name") == parameter]
    if not values:
        yield f"the {family} parameter group does not set {parameter}: plain-text connections are accepted"
    elif not any(isinstance(v, str) and v.strip().lower() in accepted for v in values):
        yield f"{parameter} = {values[-1]!r}: plain-text connections are accepted"


@resource_policy(
    "cache-encrypted-at-rest",
    "Cache data, snapshots and swap are encrypted at rest.",
    remediation="Set `at_rest_encryption_enabled=True` with the cache's own KMS key (`kms_key_id`). It cannot "
    "be turned on in place: the replication group is replaced.",
    types=(REPLICATION_GROUP,),
)
def cache_encrypted_at_rest(props: Props, args: ResourceValidationArgs) -> Iterator[str]:
    enabled = props.get("atRestEncryptionEnabled")
    if enabled is not UNKNOWN and not is_true(enabled):
        yield "atRestEncryptionEnabled is not true"


@resource_policy(
    "cache-encrypted-in-transit",
    "Every connection to the cache is TLS; plain-text connections are refused.",
    remediation="Set `transit_encryption_enabled=True` and `transit_encryption_mode='required'`; clients use "
    "`rediss://`.",
    types=(REPLICATION_GROUP,),
)
def cache_encrypted_in_transit(props: Props, args: ResourceValidationArgs) -> Iterator[str]:
    enabled, mode = props.get("transitEncryptionEnabled"), props.get("transitEncryptionMode")
    if enabled is not UNKNOWN and not is_true(enabled):
        yield "transitEncryptionEnabled is not true"
    elif isinstance(mode, str) and mode != "required":
        yield f"transitEncryptionMode is {mode!r}: plain-text connections are still accepted"


# --- Network ------------------------------------------------------------------------------------------------------


def _world_sources(rule: Any) -> list[str]:
    if not isinstance(rule, dict):
        return []
    cidrs = [*as_list(rule.get("cidrBlocks")), *as_list(rule.get("ipv6CidrBlocks"))]
    return [c for c in cidrs if is_world(c)]


@resource_policy(
    "no-ingress-from-anywhere",
    "No security group admits traffic from every address (0.0.0.0/0 or ::/0).",
    remediation="Admit a security group (`referenced_security_group_id`), a managed prefix list (e.g. "
    "CloudFront's origin-facing list) or specific networks instead. Public entry goes through a load balancer "
    "or CloudFront, never straight to a security group open to the internet.",
    types=(
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "aws:ec2/securityGroupRule:SecurityGroupRule",
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
    ),
)
def no_ingress_from_anywhere(props: Props, args: ResourceValidationArgs) -> Iterator[str]:
    if args.resource_type == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule":
        for key in ("cidrIpv4", "cidrIpv6"):
            if is_world(props.get(key)):
                yield f"{key} is {props[key]}"
    elif args.resource_type == "aws:ec2/securityGroupRule:SecurityGroupRule":
        if props.get("type") == "ingress":
            for cidr in _world_sources(props):
                yield f"the ingress rule admits {cidr}"
    else:
        for index, rule in enumerate(as_list(props.get("ingress"))):
            for cidr in _world_sources(rule):
                yield f"ingress[{index}] admits {cidr}"


# --- EKS ----------------------------------------------------------------------------------------------------------

EKS_COMPONENT = "eks:index:Cluster"
EKS_CLUSTER = "aws:eks/cluster:Cluster"


def _endpoint_settings(props: Props, resource_type: str) -> Any:
    """pulumi-eks takes the endpoint settings at the top level; the AWS resource under `vpcConfig`."""
    if resource_type == EKS_COMPONENT:
        return props
    vpc_config = props.get("vpcConfig")
    return vpc_config if isinstance(vpc_config, dict) or vpc_config is UNKNOWN else {}


@resource_policy(
    "eks-endpoint-private",
    "The cluster's API endpoint is private; a public endpoint is allowed only for listed networks, never 0.0.0.0/0.",
    remediation="Keep `cluster.endpointAccess: private` (private endpoint on, public endpoint off). If the "
    "API must be reachable from outside the VPC, use `privateAndPublic` with `cluster.publicAccessCidrs` "
    "listing your own networks; both pulumi-eks and EKS default to a public endpoint open to every address.",
    types=(EKS_COMPONENT, EKS_CLUSTER),
)
def eks_endpoint_private(props: Props, args: ResourceValidationArgs) -> Iterator[str]:
    settings = _endpoint_settings(props, args.resource_type)
    private, public, cidrs = (
        dig(settings, "endpointPrivateAccess"),
        dig(settings, "endpointPublicAccess"),
        dig(settings, "publicAccessCidrs"),
    )
    if private is not UNKNOWN and not is_true(private):
        yield "endpointPrivateAccess is not true: nodes and in-VPC clients reach the API over the internet"
    if public is UNKNOWN or is_false(public) or is_unknown(cidrs):
        return
    # Absent means on, for pulumi-eks and for EKS alike.
    if not as_list(cidrs):
        yield "the public endpoint is on with no publicAccessCidrs: it is open to every address"
    for cidr in as_list(cidrs):
        if is_world(cidr):
            yield f"the public endpoint is open to {cidr}"


@resource_policy(
    "eks-secrets-encrypted",
    "Kubernetes secrets are envelope-encrypted with a KMS key.",
    remediation="Pass the cluster's KMS key: `encryption_config_key_arn` (pulumi-eks) or `encryption_config` "
    "with resources ['secrets'] (aws.eks.Cluster).",
    types=(EKS_COMPONENT, EKS_CLUSTER),
)
def eks_secrets_encrypted(props: Props, args: ResourceValidationArgs) -> Iterator[str]:
    if args.resource_type == EKS_COMPONENT:
        key = props.get("encryptionConfigKeyArn")
        if key is not UNKNOWN and not set_text(key):
            yield "encryptionConfigKeyArn is unset: secrets are stored in etcd with only EKS's default encryption"
        return
    config = props.get("encryptionConfig")
    if is_unknown(config):
        return
    resources = as_list(dig(config, "resources"))
    if not isinstance(config, dict) or "secrets" not in resources or not set_text(dig(config, "provider", "keyArn")):
        yield "encryptionConfig does not encrypt 'secrets' with a KMS key"


# --- IAM ----------------------------------------------------------------------------------------------------------

IAM_ROLE = "aws:iam/role:Role"
# components/aws/security/role_limits.py: an environment's roles live under /philosophy-infra/<env>/ with that
# environment's boundary, and its deploy role may create no other. The bootstrap's own roles are an administrator's.
BOOTSTRAP_ROLE_PATH = "/philosophy-bootstrap/"
LAYER_ROLE_PATH = re.compile(r"/philosophy-infra/([a-z0-9][a-z0-9-]*)/")


def role_boundary_suffix(environment: str) -> str:
    return f":policy/philosophy-bootstrap/philosophy-infra-{environment}-boundary"


@resource_policy(
    "iam-role-bounded",
    "Every IAM role an environment creates lives under /philosophy-infra/<env>/ and carries that environment's "
    "permissions boundary from the bootstrap, so no role is a way around the deploy role's limits.",
    remediation="Create the role with `path` and `permissions_boundary` from the `RoleLimits` the entry point "
    "passes down; give pulumi-eks a `service_role` built that way and no default node group or instance role.",
    types=(IAM_ROLE, EKS_COMPONENT),
)
def iam_role_bounded(props: Props, args: ResourceValidationArgs) -> Iterator[str]:
    if args.resource_type == EKS_COMPONENT:
        # pulumi-eks creates these roles itself, without a path or a boundary, unless it is given its own.
        if props.get("serviceRole") is None:
            yield "no serviceRole: pulumi-eks would create the control plane's role without the boundary"
        skip_default = props.get("skipDefaultNodeGroup")
        instance_role = props.get("instanceRole") is not None or props.get("instanceRoles") is not None
        creates_instance_role = is_true(props.get("createInstanceRole")) or (
            skip_default is not UNKNOWN and not is_true(skip_default) and not instance_role
        )
        if creates_instance_role:
            yield "pulumi-eks would create an instance role without the boundary (a default node group)"
        return
    path = props.get("path")
    if path is UNKNOWN or path == BOOTSTRAP_ROLE_PATH:
        return
    match = LAYER_ROLE_PATH.fullmatch(path) if isinstance(path, str) else None
    if match is None:
        yield f"path is {path!r}, not /philosophy-infra/<environment>/: the deploy roles create roles only there"
        return
    suffix = role_boundary_suffix(match.group(1))
    boundary = props.get("permissionsBoundary")
    if boundary is not UNKNOWN and not (isinstance(boundary, str) and boundary.endswith(suffix)):
        yield f"permissionsBoundary is {boundary!r}, not its environment's (…{suffix})"


# --- Nodes and volumes --------------------------------------------------------------------------------------------

LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
EC2_INSTANCE = "aws:ec2/instance:Instance"


@resource_policy(
    "imdsv2-hop-limit-1",
    "Instances require IMDSv2 with a hop limit of 1, so pods cannot reach the node's credentials.",
    remediation="Set `metadata_options` with `http_tokens='required'` and `http_put_response_hop_limit=1`; "
    "pods get AWS credentials through IRSA instead of the node role.",
    types=(LAUNCH_TEMPLATE, EC2_INSTANCE),
)
def imdsv2_hop_limit_1(props: Props, args: ResourceValidationArgs) -> Iterator[str]:
    options = props.get("metadataOptions")
    if options is UNKNOWN:
        return
    if not isinstance(options, dict):
        yield "metadataOptions is unset: IMDSv1 stays available and the hop limit is the AMI's (2 on AL2023)"
        return
    if options.get("httpEndpoint") == "disabled":
        return
    tokens, hops = options.get("httpTokens"), options.get("httpPutResponseHopLimit")
    if tokens is not UNKNOWN and tokens != "required":
        yield f"httpTokens is {tokens!r}, not 'required': IMDSv1 stays available"
    if hops is not UNKNOWN and hops != 1:
        yield f"httpPutResponseHopLimit is {hops!r}, not 1: containers can reach the instance metadata"


def _unencrypted(device: Any, where: str) -> Iterator[str]:
    if not isinstance(device, dict):
        return
    encrypted = device.get("encrypted")
    if encrypted is not UNKNOWN and not is_true(encrypted):
        yield f"{where} is not encrypted"


@resource_policy(
    "ebs-volumes-encrypted",
    "Every EBS volume (node root volumes included) is encrypted.",
    remediation="Declare each block device with `encrypted='true'` (launch templates) or `encrypted=True`; a "
    "launch template that declares no block device leaves the root volume to the AMI's snapshot.",
    types=(LAUNCH_TEMPLATE, EC2_INSTANCE, "aws:ebs/volume:Volume"),
)
def ebs_volumes_encrypted(props: Props, args: ResourceValidationArgs) -> Iterator[str]:
    if args.resource_type == "aws:ebs/volume:Volume":
        yield from _unencrypted(props, "the volume")
    elif args.resource_type == LAUNCH_TEMPLATE:
        mappings = props.get("blockDeviceMappings")
        if mappings is UNKNOWN:
            return
        if not as_list(mappings):
            yield "blockDeviceMappings is empty: the root volume follows the AMI's snapshot (unencrypted)"
        for mapping in as_list(mappings):
            if isinstance(mapping, dict):
                yield from _unencrypted(mapping.get("ebs"), f"block device {mapping.get('deviceName')}")
    else:
        root = props.get("rootBlockDevice")
        if root is None:
            yield "rootBlockDevice is unset: the root volume follows the AMI's snapshot (unencrypted)"
        yield from _unencrypted(root, "the root volume")
        for device in as_list(props.get("ebsBlockDevices")):
            where = f"EBS volume {device.get('deviceName')}" if isinstance(device, dict) else "an EBS volume"
            yield from _unencrypted(device, where)


EBS_PROVISIONERS = frozenset({"ebs.csi.aws.com", "kubernetes.io/aws-ebs"})


@resource_policy(
    "ebs-storage-class-encrypted",
    "StorageClasses that provision EBS volumes encrypt them.",
    remediation="Add `encrypted: 'true'` to the StorageClass parameters (and `kmsKeyId` for a customer key).",
    types=("kubernetes:storage.k8s.io/v1:StorageClass",),
)
def ebs_storage_class_encrypted(props: Props, args: ResourceValidationArgs) -> Iterator[str]:
    if props.get("provisioner") not in EBS_PROVISIONERS:
        return
    encrypted = dig(props, "parameters", "encrypted")
    if encrypted is not UNKNOWN and not is_true(encrypted):
        yield "parameters.encrypted is not 'true': the class creates unencrypted volumes"


# --- Encryption keys and encrypted stores ----------------------------------------------------------------------


@resource_policy(
    "log-group-encrypted",
    "CloudWatch log groups are encrypted with a customer managed KMS key.",
    remediation="Create the log group with `kms_key_id` (the `encrypted_log_group` helper does, with a key "
    "whose policy lets CloudWatch Logs use it for that log group only).",
    types=("aws:cloudwatch/logGroup:LogGroup",),
)
def log_group_encrypted(props: Props, args: ResourceValidationArgs) -> Iterator[str]:
    key = props.get("kmsKeyId")
    if key is not UNKNOWN and not set_text(key):
        yield "kmsKeyId is unset"


@resource_policy(
    "secret-encrypted-with-own-key",
    "Secrets Manager secrets are encrypted with a customer managed KMS key.",
    remediation="Pass `kms_key_id` (the store's or the application secrets' key); a reader then needs "
    "kms:Decrypt on that key as well as secretsmanager:GetSecretValue.",
    types=("aws:secretsmanager/secret:Secret",),
)
def secret_encrypted_with_own_key(props: Props, args: ResourceValidationArgs) -> Iterator[str]:
    key = props.get("kmsKeyId")
    if key is not UNKNOWN and not set_text(key):
        yield "kmsKeyId is unset: the secret uses the account-wide aws/secretsmanager key"


@resource_policy(
    "sns-topic-encrypted",
    "SNS topics are encrypted with a customer managed KMS key.",
    remediation="Pass `kms_master_key_id` (a key whose policy lets the publishing services, such as "
    "cloudwatch.amazonaws.com, use it for this account).",
    types=("aws:sns/topic:Topic",),
)
def sns_topic_encrypted(props: Props, args: ResourceValidationArgs) -> Iterator[str]:
    key = props.get("kmsMasterKeyId")
    if key is not UNKNOWN and not set_text(key):
        yield "kmsMasterKeyId is unset"


@resource_policy(
    "kms-key-rotation",
    "Symmetric KMS keys rotate their key material yearly.",
    remediation="Set `enable_key_rotation=True` (the `EncryptionKey` component does).",
    types=("aws:kms/key:Key",),
)
def kms_key_rotation(props: Props, args: ResourceValidationArgs) -> Iterator[str]:
    spec = props.get("customerMasterKeySpec") or props.get("keySpec")
    if spec not in (None, "SYMMETRIC_DEFAULT"):
        return  # asymmetric and HMAC keys cannot rotate automatically
    rotation = props.get("enableKeyRotation")
    if rotation is not UNKNOWN and not is_true(rotation):
        yield "enableKeyRotation is not true"


# --- CloudFront (none yet: these guard what the CDN work adds) ------------------------------------------------

DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
VPC_ORIGIN = "aws:cloudfront/vpcOrigin:VpcOrigin"
# TLSv1.2_2021 still admits CBC suites; the 2025 policies do not.
VIEWER_TLS_POLICIES = frozenset({"TLSv1.2_2025", "TLSv1.3_2025"})
WEAK_ORIGIN_PROTOCOLS = frozenset({"SSLv3", "TLSv1", "TLSv1.1"})


@resource_policy(
    "cloudfront-no-origin-access-identity",
    "CloudFront reaches S3 through origin access control (OAC), never a legacy origin access identity (OAI).",
    remediation="Create an `aws.cloudfront.OriginAccessControl` (SigV4, always sign), set the origin's "
    "`origin_access_control_id` and drop `s3_origin_config`; grant `cloudfront.amazonaws.com` read in the "
    "bucket policy, conditioned on the distribution's ARN.",
    types=(DISTRIBUTION,),
)
def cloudfront_no_oai(props: Props, args: ResourceValidationArgs) -> Iterator[str]:
    for origin in as_list(props.get("origins")):
        identity = dig(origin, "s3OriginConfig", "originAccessIdentity")
        if identity is not UNKNOWN and set_text(identity):
            yield f"origin {dig(origin, 'originId')!r} uses an origin access identity"


def _origin_protocol_problems(config: Any, where: str) -> Iterator[str]:
    if not isinstance(config, dict):
        return
    policy = config.get("originProtocolPolicy")
    if policy is not UNKNOWN and policy != "https-only":
        yield f"{where}: originProtocolPolicy is {policy!r}, not 'https-only'"
    protocols = config.get("originSslProtocols")
    if isinstance(protocols, dict):  # a VPC origin's {items, quantity}
        protocols = protocols.get("items")
    weak = sorted(p for p in as_list(protocols) if p in WEAK_ORIGIN_PROTOCOLS)
    if weak:
        yield f"{where}: originSslProtocols allows {', '.join(weak)}"


@resource_policy(
    "cloudfront-https-only",
    "CloudFront serves viewers over HTTPS only, and reaches its internet origins over HTTPS with TLS 1.2 or "
    "later; a VPC origin, whose traffic never leaves AWS's network, may use HTTP.",
    remediation="Set every cache behaviour's `viewer_protocol_policy` to 'redirect-to-https' or 'https-only', and "
    "give custom origins `origin_protocol_policy='https-only'` with `origin_ssl_protocols=['TLSv1.2']` (a VPC "
    "origin that uses HTTPS: the same).",
    types=(DISTRIBUTION, VPC_ORIGIN),
)
def cloudfront_https_only(props: Props, args: ResourceValidationArgs) -> Iterator[str]:
    if args.resource_type == VPC_ORIGIN:
        config = props.get("vpcOriginEndpointConfig")
        if isinstance(config, dict) and config.get("originProtocolPolicy") == "http-only":
            return  # inside the VPC, from CloudFront's own interfaces there
        yield from _origin_protocol_problems(config, "the VPC origin")
        return
    behaviours = [("defaultCacheBehavior", props.get("defaultCacheBehavior"))] + [
        (f"orderedCacheBehaviors[{i}]", b) for i, b in enumerate(as_list(props.get("orderedCacheBehaviors")))
    ]
    for where, behaviour in behaviours:
        if dig(behaviour, "viewerProtocolPolicy") == "allow-all":
            yield f"{where}: viewerProtocolPolicy is 'allow-all' (plain HTTP)"
    for origin in as_list(props.get("origins")):
        where = f"origin {dig(origin, 'originId')!r}"
        yield from _origin_protocol_problems(dig(origin, "customOriginConfig"), where)


@resource_policy(
    "cloudfront-waf-attached",
    "Every CloudFront distribution has a WAF web ACL.",
    remediation="Create an `aws.wafv2.WebAcl` (scope CLOUDFRONT, region us-east-1; the `WebAcl` component) and "
    "pass its ARN as the distribution's `web_acl_id`.",
    types=(DISTRIBUTION,),
)
def cloudfront_waf_attached(props: Props, args: ResourceValidationArgs) -> Iterator[str]:
    acl = props.get("webAclId")
    if acl is not UNKNOWN and not set_text(acl):
        yield "no web ACL (webAclId is empty): the rate limit and the managed rules protect nothing"


def _viewer_tls_problems(props: Props, protected: bool) -> Iterator[str]:
    certificate = props.get("viewerCertificate")
    if not isinstance(certificate, dict):
        return
    if is_true(certificate.get("cloudfrontDefaultCertificate")):
        if protected:
            yield (
                "the default *.cloudfront.net certificate (CloudFront's own TLS policy, TLS 1.0 and up) in a "
                "protected stack: give the stack a domain (edge.domain) and its ACM certificate"
            )
        return
    minimum = certificate.get("minimumProtocolVersion")
    if minimum is not UNKNOWN and minimum not in VIEWER_TLS_POLICIES:
        yield f"viewerCertificate.minimumProtocolVersion is {minimum!r}, not one of {sorted(VIEWER_TLS_POLICIES)}"


@stack_policy(
    "cloudfront-tls-minimum",
    "Viewers reach CloudFront with TLS 1.2 (AEAD ciphers only) or 1.3: an ACM certificate with TLSv1.2_2025 or "
    "TLSv1.3_2025. Only an unprotected stack may use the default *.cloudfront.net certificate, whose policy "
    "CloudFront fixes.",
    remediation="Set `edge.domain` and `edge.hostedZoneId` in the stack file: the program then issues an ACM "
    "certificate in us-east-1 and sets `minimum_protocol_version='TLSv1.2_2025'`.",
    config_schema=PROTECTED_STACK_SCHEMA,
)
def cloudfront_tls_minimum(
    resources: list[StackResource], config: Mapping[str, Any]
) -> Iterator[tuple[str, str | None]]:
    protected = config.get("protectedStack", True) is not False
    for resource in resources:
        if resource.type == DISTRIBUTION:
            for problem in _viewer_tls_problems(resource.props, protected):
                yield problem, resource.urn


LOAD_BALANCER_TYPES = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")


@resource_policy(
    "load-balancer-internal",
    "Load balancers are internal, and application load balancers drop invalid header fields: the internet "
    "reaches the service only through CloudFront (a VPC origin) and its WAF.",
    remediation="Use the `ServiceLoadBalancer` component: `internal=True` in the private subnets, "
    "`drop_invalid_header_fields=True`, reached by CloudFront's VPC origin.",
    types=LOAD_BALANCER_TYPES,
)
def load_balancer_internal(props: Props, args: ResourceValidationArgs) -> Iterator[str]:
    internal = props.get("internal")
    if internal is not UNKNOWN and not is_true(internal):
        yield "internal is not true: the load balancer would be on the internet, around CloudFront and its WAF"
    drop = props.get("dropInvalidHeaderFields")
    kind = props.get("loadBalancerType", "application")
    if kind == "application" and drop is not UNKNOWN and not is_true(drop):
        yield "dropInvalidHeaderFields is not true: malformed headers reach the service"


# --- Kubernetes workloads and namespaces -----------------------------------------------------------------------

# Where each workload kind keeps its pod spec.
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "kubernetes:core/v1:Pod": ("spec",),
}
NAMESPACE = "kubernetes:core/v1:Namespace"
EXEMPTION_ANNOTATION = "guardrails.philosophy/pod-security-exemption"
"""On a Namespace (or a workload): the written reason it may run pods the restricted standard refuses."""
_ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
_POD_SECURITY_LEVELS = frozenset({"privileged", "baseline", "restricted"})
_RESTRICTED_VOLUMES = frozenset(
    {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
)


def _pod_spec(props: Props, resource_type: str) -> Any:
    return dig(props, *POD_SPEC_PATHS[resource_type])


def _containers(pod: Any) -> Iterator[tuple[str, Props]]:
    """(`containers[name]`, container) for every container, init container and ephemeral container."""
    if not isinstance(pod, dict):
        return
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for index, container in enumerate(as_list(pod.get(field))):
            if isinstance(container, dict):
                name = container.get("name")
                yield f"{field}[{name if isinstance(name, str) else index}]", container


def _exemption_problem(metadata: Any) -> str | None:
    """None when `metadata` carries a written exemption reason; else why not ('' when there is none)."""
    reason = dig(metadata, "annotations", EXEMPTION_ANNOTATION)
    if reason is None:
        return ""
    if reason is UNKNOWN or (isinstance(reason, str) and len(reason.split()) >= 5):
        return None
    return f"the {EXEMPTION_ANNOTATION} annotation needs a written reason (a sentence), not {reason!r}"


def _image_problem(image: Any) -> str | None:
    if not isinstance(image, str):
        return None
    if "@sha256:" in image:
        return None  # pinned by digest
    last = image.rsplit("/", 1)[-1]
    tag = last.rsplit(":", 1)[1] if ":" in last else ""
    if not tag:
        return "has no tag, so the runtime pulls :latest"
    if tag.lower() == "latest":
        return "uses the mutable :latest tag"
    return None


@resource_policy(
    "k8s-image-pinned",
    "Every container image is pinned: a tag other than `latest`, or a digest.",
    remediation="Use `<registry>/<name>:<version>` (the stack's `workloads.imageTag`) or `<name>@sha256:<digest>`; "
    "a rollback then redeploys exactly what ran before.",
    types=POD_SPEC_PATHS,
)
def k8s_image_pinned(props: Props, args: ResourceValidationArgs) -> Iterator[str]:
    for where, container in _containers(_pod_spec(props, args.resource_type)):
        problem = _image_problem(container.get("image"))
        if problem:
            yield f"{where}: image {container['image']!r} {problem}"


def _pod_problems(pod: Props) -> Iterator[str]:
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if is_true(pod.get(flag)):
            yield f"{flag} is true"
    for volume in as_list(pod.get("volumes")):
        if isinstance(volume, dict):
            for kind in sorted(set(volume) - {"name"} - _RESTRICTED_VOLUMES):
                yield f"volume {volume.get('name')!r} is a {kind} volume"
    context = pod.get("securityContext")
    context = context if isinstance(context, dict) or context is UNKNOWN else {}
    pod_non_root, pod_user = dig(context, "runAsNonRoot"), dig(context, "runAsUser")
    pod_seccomp = dig(context, "seccompProfile", "type")
    if is_false(pod_non_root):
        yield "securityContext.runAsNonRoot is false"
    if pod_user == 0:
        yield "securityContext.runAsUser is 0 (root)"
    for where, container in _containers(pod):
        yield from (f"{where}: {problem}" for problem in _container_problems(container, pod_non_root, pod_seccomp))


def _container_problems(container: Props, pod_non_root: Any, pod_seccomp: Any) -> Iterator[str]:
    context = container.get("securityContext")
    if context is UNKNOWN:
        return
    context = context if isinstance(context, dict) else {}
    if is_true(context.get("privileged")):
        yield "privileged is true"
    escalation = context.get("allowPrivilegeEscalation")
    if escalation is not UNKNOWN and not is_false(escalation):
        yield "allowPrivilegeEscalation is not false"
    non_root = context.get("runAsNonRoot")
    if is_false(non_root):
        yield "runAsNonRoot is false"
    elif non_root is None and pod_non_root is not UNKNOWN and not is_true(pod_non_root):
        yield "runAsNonRoot is set neither on the container nor on the pod"
    if context.get("runAsUser") == 0:
        yield "runAsUser is 0 (root)"
    drop, add = dig(context, "capabilities", "drop"), dig(context, "capabilities", "add")
    if not is_unknown(drop) and "ALL" not in as_list(drop):
        yield "capabilities.drop does not include ALL"
    added = sorted(str(c) for c in as_list(add) if c is not UNKNOWN and c != "NET_BIND_SERVICE")
    if not is_unknown(add) and added:
        yield f"capabilities.add has {', '.join(added)}"
    seccomp = dig(context, "seccompProfile", "type")
    effective = pod_seccomp if seccomp is None else seccomp
    if effective is not UNKNOWN and effective not in ("RuntimeDefault", "Localhost"):
        yield f"seccompProfile is {effective or 'unset'} (neither container nor pod sets RuntimeDefault)"
    for port in as_list(container.get("ports")):
        host_port = dig(port, "hostPort")
        if isinstance(host_port, int | float) and host_port:
            yield f"hostPort {int(host_port)} is set"


@resource_policy(
    "k8s-pod-security-restricted",
    "Workloads meet the restricted Pod Security Standard: non-root, no privilege escalation, all capabilities "
    "dropped, RuntimeDefault seccomp, no host namespaces, ports or paths.",
    remediation="Use the `Workload` component's security contexts: pod `runAsNonRoot: true`, `runAsUser: 10001`, "
    "`seccompProfile: RuntimeDefault`; each container `allowPrivilegeEscalation: false`, `capabilities: {drop: "
    f"[ALL]}}`. A workload that cannot comply needs a `{EXEMPTION_ANNOTATION}` annotation with the reason, and "
    "a namespace that admits it.",
    types=POD_SPEC_PATHS,
)
def k8s_pod_security_restricted(props: Props, args: ResourceValidationArgs) -> Iterator[str]:
    exemption = _exemption_problem(props.get("metadata"))
    if exemption is None:
        return
    if exemption:
        yield exemption
    pod = _pod_spec(props, args.resource_type)
    if isinstance(pod, dict):
        yield from _pod_problems(pod)


@resource_policy(
    "k8s-read-only-root-filesystem",
    "Containers run with a read-only root filesystem.",
    remediation="Set `readOnlyRootFilesystem: true` and mount an emptyDir where the process writes (`/tmp`).",
    types=POD_SPEC_PATHS,
    advisory_reason="Not part of the restricted Pod Security Standard, and third-party images (charts the "
    "platform adds later) may write to their root filesystem; the program's own containers always set it, and a "
    "reviewer decides for the others.",
)
def k8s_read_only_root_filesystem(props: Props, args: ResourceValidationArgs) -> Iterator[str]:
    if _exemption_problem(props.get("metadata")) is None:
        return
    for where, container in _containers(_pod_spec(props, args.resource_type)):
        read_only = dig(container, "securityContext", "readOnlyRootFilesystem")
        if read_only is not UNKNOWN and not is_true(read_only):
            yield f"{where}: readOnlyRootFilesystem is not true"


@resource_policy(
    "k8s-namespace-pod-security",
    "Namespaces enforce the restricted Pod Security Standard, unless an annotation gives the written reason "
    "they cannot (a mesh or monitoring namespace, say).",
    remediation=f"Label the namespace `{_ENFORCE_LABEL}: restricted` (plus `audit` and `warn`). A namespace that "
    f"must admit more sets its level explicitly and says why in the `{EXEMPTION_ANNOTATION}` annotation.",
    types=(NAMESPACE,),
)
def k8s_namespace_pod_security(props: Props, args: ResourceValidationArgs) -> Iterator[str]:
    metadata = props.get("metadata")
    enforce = dig(metadata, "labels", _ENFORCE_LABEL)
    if enforce is UNKNOWN:
        return
    exemption = _exemption_problem(metadata)
    if exemption is None:
        if enforce not in _POD_SECURITY_LEVELS:
            yield f"an exempted namespace still sets {_ENFORCE_LABEL} explicitly (found {enforce!r})"
    elif enforce != "restricted":
        yield exemption or f"{_ENFORCE_LABEL} is {enforce!r}, not 'restricted'"


# --- Buckets (stack policies: a bucket's settings are separate resources) ------------------------------------

BUCKET_TYPES = frozenset({"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"})
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_ENCRYPTION = frozenset(
    {
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
    }
)
BUCKET_PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
SSE_ALGORITHMS = frozenset({"aws:kms", "aws:kms:dsse", "AES256"})


def _buckets_and(
    resources: list[StackResource], side_types: Iterable[str]
) -> Iterator[tuple[StackResource, list[Any]]]:
    """Each bucket with the props of its side resources of `side_types`: each one whose `bucket` names it."""
    types = frozenset(side_types)
    sides = [r for r in resources if r.type in types]
    for bucket in (r for r in resources if r.type in BUCKET_TYPES):
        yield bucket, [side.props for side in sides if side.references(bucket, "bucket")]


def _denies_plain_http(statement: Any) -> bool:
    if not isinstance(statement, dict) or statement.get("Effect") != "Deny":
        return False
    principal = statement.get("Principal")
    if principal != "*" and as_list(dig(principal, "AWS")) != ["*"]:
        return False
    if "s3:*" not in as_list(statement.get("Action")):
        return False
    secure = dig(statement, "Condition", "Bool", "aws:SecureTransport")
    resources = [r for r in as_list(statement.get("Resource")) if isinstance(r, str)]
    covers_objects = any(r.endswith("/*") for r in resources)
    covers_bucket = any(not r.endswith("/*") for r in resources)
    return is_false(secure) and covers_objects and covers_bucket


def _policy_document(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


@stack_policy(
    "s3-bucket-tls-only",
    "Every bucket's policy denies any request made without TLS.",
    remediation="Give the bucket an `aws.s3.BucketPolicy` with a statement {Effect: Deny, Principal: '*', "
    "Action: 's3:*', Resource: [bucket ARN, bucket ARN/*], Condition: {Bool: {'aws:SecureTransport': 'false'}}} "
    "(the `AssetsBucket` component does, and also denies TLS below 1.2).",
)
def s3_bucket_tls_only(resources: list[StackResource], config: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    for bucket, policies in _buckets_and(resources, {BUCKET_POLICY}):
        documents = [_policy_document(p.get("policy")) for p in policies]
        documents.append(_policy_document(bucket.props.get("policy")))  # the deprecated inline policy
        if any(is_unknown(d) for d in documents):
            continue
        statements = [s for d in documents for s in as_list(dig(d, "Statement"))]
        if not any(_denies_plain_http(s) for s in statements):
            yield "no bucket policy denies requests without TLS (aws:SecureTransport = false)", bucket.urn


def _encryption_rules(configuration: Any) -> list[Any]:
    return as_list(dig(configuration, "rules")) + as_list(dig(configuration, "rule"))


@stack_policy(
    "s3-bucket-encrypted",
    "Every bucket encrypts new objects by default with SSE-KMS (a customer managed key) or SSE-S3.",
    remediation="Give the bucket an `aws.s3.BucketServerSideEncryptionConfiguration` whose rule applies "
    "`sse_algorithm='aws:kms'` with `kms_master_key_id` and `bucket_key_enabled=True` (or 'AES256' for SSE-S3).",
)
def s3_bucket_encrypted(resources: list[StackResource], config: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    for bucket, configurations in _buckets_and(resources, BUCKET_ENCRYPTION):
        configurations.append(bucket.props.get("serverSideEncryptionConfiguration"))  # the deprecated inline one
        if any(is_unknown(c) for c in configurations):
            continue
        defaults = [
            dig(rule, "applyServerSideEncryptionByDefault") for c in configurations for rule in _encryption_rules(c)
        ]
        if not defaults:
            yield "the bucket has no server-side encryption configuration", bucket.urn
        for default in defaults:
            algorithm = dig(default, "sseAlgorithm")
            if algorithm not in SSE_ALGORITHMS:
                yield f"sseAlgorithm is {algorithm!r}", bucket.urn
            elif algorithm != "AES256" and not set_text(dig(default, "kmsMasterKeyId")):
                yield f"{algorithm} without kmsMasterKeyId uses the AWS managed aws/s3 key", bucket.urn


@stack_policy(
    "s3-bucket-public-access-blocked",
    "Every bucket blocks public access: all four public access block settings are on.",
    remediation="Give the bucket an `aws.s3.BucketPublicAccessBlock` with `block_public_acls`, "
    "`block_public_policy`, `ignore_public_acls` and `restrict_public_buckets` all True; CloudFront reads "
    "through origin access control, which needs none of them off.",
)
def s3_bucket_public_access_blocked(
    resources: list[StackResource], config: Mapping[str, Any]
) -> Iterator[tuple[str, str | None]]:
    settings = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    for bucket, blocks in _buckets_and(resources, {BUCKET_PUBLIC_ACCESS_BLOCK}):
        if any(is_unknown(b) for b in blocks):
            continue
        if not blocks:
            yield "the bucket has no public access block", bucket.urn
        for block in blocks:
            off = [s for s in settings if not is_true(block.get(s))]
            if off:
                yield f"public access block settings not on: {', '.join(off)}", bucket.urn


# --- Protected stacks ----------------------------------------------------------------------------------------

STATEFUL_TYPES = frozenset(
    {
        RDS_INSTANCE,
        RDS_CLUSTER,
        REPLICATION_GROUP,
        *BUCKET_TYPES,
        "aws:kms/key:Key",
        EKS_COMPONENT,
        EKS_CLUSTER,
        "aws:opensearch/domain:Domain",
    }
)


def _protection_problems(resource: StackResource) -> Iterator[str]:
    props = resource.props
    if resource.type in (EKS_COMPONENT, EKS_CLUSTER):
        # EKS's own deletion protection refuses to delete the cluster, which is what a protected stack needs.
        # pulumi-eks's component reports no `deletionProtection` among its outputs in a real run; its child
        # aws:eks/cluster:Cluster does, and is checked there.
        protection = props.get("deletionProtection")
        missing_on_component = protection is None and resource.type == EKS_COMPONENT
        if not resource.protect and protection is not UNKNOWN and not missing_on_component and not is_true(protection):
            yield "neither `protect` nor deletionProtection is on: a destroy or replacement deletes the cluster"
        return
    if not resource.protect:
        yield "`protect` is off: a destroy or a replacement would delete it (and its data)"
    if resource.type in (RDS_INSTANCE, RDS_CLUSTER):
        protection = props.get("deletionProtection")
        if protection is not UNKNOWN and not is_true(protection):
            yield "deletionProtection is off"
    if resource.type in BUCKET_TYPES and is_true(props.get("forceDestroy")):
        yield "forceDestroy is on: deleting the bucket would delete every object in it"


@stack_policy(
    "stateful-resources-protected",
    "In a protected stack, stateful resources (databases, caches, buckets, KMS keys, the EKS cluster) cannot "
    "be deleted by a deploy.",
    remediation="Keep `dataProtection: protected` in the stack file: the components then set `protect` (and "
    "deletion protection where AWS has it). To tear a protected stack down, switch it to `snapshotOnly` first.",
    config_schema=PROTECTED_STACK_SCHEMA,
)
def stateful_resources_protected(
    resources: list[StackResource], config: Mapping[str, Any]
) -> Iterator[tuple[str, str | None]]:
    if config.get("protectedStack", True) is False:
        return
    for resource in resources:
        if resource.type in STATEFUL_TYPES:
            for problem in _protection_problems(resource):
                yield problem, resource.urn


ALL_POLICIES: list[Policy] = [
    database_not_public,
    database_encrypted_at_rest,
    database_tls_required,
    cache_encrypted_at_rest,
    cache_encrypted_in_transit,
    no_ingress_from_anywhere,
    eks_endpoint_private,
    eks_secrets_encrypted,
    iam_role_bounded,
    imdsv2_hop_limit_1,
    ebs_volumes_encrypted,
    ebs_storage_class_encrypted,
    log_group_encrypted,
    secret_encrypted_with_own_key,
    sns_topic_encrypted,
    kms_key_rotation,
    cloudfront_no_oai,
    cloudfront_https_only,
    cloudfront_waf_attached,
    cloudfront_tls_minimum,
    load_balancer_internal,
    k8s_image_pinned,
    k8s_pod_security_restricted,
    k8s_read_only_root_filesystem,
    k8s_namespace_pod_security,
    s3_bucket_tls_only,
    s3_bucket_encrypted,
    s3_bucket_public_access_blocked,
    stateful_resources_protected,
]
