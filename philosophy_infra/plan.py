"""The offline plan: run a Pulumi program under Pulumi's own mock runtime and record what it would register.

No Pulumi CLI, provider plugin, network or credentials are involved. A `RecordingMonitor` (a `MockMonitor`)
captures every RegisterResource request exactly as the SDK sends it: type, name, parent, dependencies,
protect, retainOnDelete, deleteBeforeReplace, ignoreChanges and the serialized inputs, in which secrets
still carry Pulumi's secret signature and are masked here. `PlanMocks` stands in for the providers:
placeholder ids, the computed outputs the program reads (ARNs, auto-names, endpoints), and data sources
answered for the stack's region.

The same `run_program` serves the `plan` CLI (whole `__main__.py`) and the tests (one component at a time),
each run on a fresh event loop and a fresh runtime.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks, set_mocks
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

SCHEMA_VERSION = 1
SECRET = "[secret]"
UNKNOWN = "[unknown]"
ACCOUNT_ID = "123456789012"

# Signatures of Pulumi's wire format (sdk/go/common/resource/sig).
_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SIG_SECRET = "1b47061264138c4ac30d75fd1eb44270"
_SIG_RESOURCE = "5cf8f73096256a8f31e491e813e4eb8e"
_UNKNOWN_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
STACK_REFERENCE = "pulumi:pulumi:StackReference"


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:7]


class PlanMocks(Mocks):
    """Provider stand-ins: deterministic ids and the computed outputs our program reads."""

    def __init__(self, region: str, stack_references: StackReferenceAnswers | None = None) -> None:
        self.region = region
        self.partition = partition_of(region)
        self.stack_references = stack_references
        # Each explicit AWS provider's region, by its id: a resource created through the DR region's provider gets
        # that region in its computed ARNs, as it would.
        self.provider_regions: dict[str, str] = {}

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        region, partition = self.region, self.partition
        answers: dict[str, dict[str, Any]] = {
            "aws:index/getCallerIdentity:getCallerIdentity": {
                "accountId": ACCOUNT_ID,
                "arn": f"arn:{partition}:iam::{ACCOUNT_ID}:user/offline-plan",
                "userId": "AIDAOFFLINEPLAN",
                "id": ACCOUNT_ID,
            },
            "aws:index/getPartition:getPartition": {
                "partition": partition,
                "dnsSuffix": "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com",
                "reverseDnsPrefix": "cn.com.amazonaws" if partition == "aws-cn" else "com.amazonaws",
                "id": partition,
            },
            "aws:index/getRegion:getRegion": {
                "name": region,
                "region": region,
                "id": region,
                "endpoint": f"ec2.{region}.amazonaws.com",
                "description": region,
            },
            "aws:index/getAvailabilityZones:getAvailabilityZones": {
                "names": [f"{region}{s}" for s in "abc"],
                "zoneIds": [f"{region.replace('-', '')[:5]}-az{i}" for i in (1, 2, 3)],
                "groupNames": [region],
                "id": region,
            },
        }
        if args.token == "aws:eks/getAddonVersion:getAddonVersion":
            # The real answer depends on what EKS publishes; the plan says which version will be resolved instead
            # of guessing a build number.
            name, version = args.args.get("addonName"), args.args.get("kubernetesVersion")
            which = "latest" if args.args.get("mostRecent") else "default"
            answer = f"eks-{which}-for-{version}"
            return {"addonName": name, "kubernetesVersion": version, "version": answer, "id": name}, []
        if args.token == "aws:elb/getServiceAccount:getServiceAccount":
            # The provider answers from its table of each region's ELB account; the plan cannot know it.
            return {"arn": f"arn:{partition}:iam::000000000000:root", "id": "000000000000"}, []
        if args.token == "aws:ec2/getSecurityGroup:getSecurityGroup":
            # A group that exists already (CloudFront's VPC origin group, created with the VPC origin).
            group = str(args.args.get("name") or "group")
            return {"id": f"sg-{_short_hash(group)}", "name": group, "vpcId": args.args.get("vpcId")}, []
        if args.token not in answers:
            # An unanswered invoke would hang the run (pulumi/pulumi#7888): fail loudly instead.
            raise NotImplementedError(f"the offline plan has no answer for the data source {args.token}")
        return answers[args.token], []

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        state = dict(args.inputs)
        if args.typ == STACK_REFERENCE:
            return self._stack_reference(str(state.get("name") or args.name))
        if not args.custom:
            return "", _component_outputs(args.typ, args.name, state, self.region)
        physical = f"{args.name}-{_short_hash(args.name)}"
        resource_id = f"{args.name}-id"
        pkg, _, kind = args.typ.partition(":")
        service = kind.split("/")[0]
        if args.typ == "pulumi:providers:aws" and state.get("region"):
            self.provider_regions[resource_id] = str(state["region"])
        if pkg == "aws":
            provider_id = (args.provider or "").rsplit("::", 1)[-1]
            region = str(state.get("region") or self.provider_regions.get(provider_id, self.region))
            state.setdefault("name", physical)
            state.setdefault("arn", f"arn:{self.partition}:{service}:{region}:{ACCOUNT_ID}:{service}/{state['name']}")
            state.update(_aws_outputs(args.typ, state, region))
            resource_id = _aws_id(args.typ, state, resource_id)
        elif args.typ == "random:index/randomPassword:RandomPassword":
            # Marked secret by the SDK (additional_secret_outputs), so the plan shows it masked.
            state["result"] = f"offline-plan-{_short_hash(args.name)}"
        elif args.typ == "random:index/randomBytes:RandomBytes":
            raw = hashlib.sha256(args.name.encode()).digest()[: int(state.get("length", 16))]
            state |= {"base64": base64.b64encode(raw).decode(), "hex": raw.hex()}
        elif args.typ == "random:index/randomId:RandomId":
            state["hex"] = hashlib.sha256(args.name.encode()).hexdigest()[: 2 * int(state.get("byteLength", 4))]
        return resource_id, state

    def _stack_reference(self, name: str) -> tuple[str, dict[str, Any]]:
        answers = self.stack_references
        if answers is None or not answers.answers(name):
            known = f"only {answers.describe()}" if answers else "no stack"
            raise LookupError(f"the offline plan cannot read stack {name!r}: it answers {known}")
        return name, {"name": name, "outputs": answers.outputs, "secretOutputNames": answers.secret_names}


@dataclass(frozen=True)
class StackReferenceAnswers:
    """What a StackReference to another layer's stack reads offline: that layer's planned outputs.

    Secret outputs stay masked (`[secret]`) and are named secret, so they stay secret in the reading layer."""

    project: str
    stack: str
    outputs: Mapping[str, Any]
    secret_names: list[str]

    def answers(self, name: str) -> bool:
        # `<organization>/<project>/<stack>`; the organization is the backend's, which the plan does not know.
        parts = name.split("/")
        return len(parts) == 3 and parts[1:] == [self.project, self.stack]

    def describe(self) -> str:
        return f"<organization>/{self.project}/{self.stack}"


def _aws_id(typ: str, state: dict[str, Any], default: str) -> str:
    if typ == "aws:s3/bucket:Bucket":
        return str(state["bucket"])
    if typ in ("aws:rds/subnetGroup:SubnetGroup", "aws:elasticache/subnetGroup:SubnetGroup"):
        return str(state["name"])
    if typ == "aws:rds/instance:Instance":
        return str(state["identifier"])
    if typ == "aws:elasticache/replicationGroup:ReplicationGroup":
        return str(state["replicationGroupId"])
    if typ in _ID_IN_ARN:
        return str(state["arn"]).rsplit("/", 1)[-1]
    return default


# CloudFront and WAF name their resources by an id that ends their ARN.
_ID_IN_ARN = frozenset(
    {"aws:cloudfront/distribution:Distribution", "aws:cloudfront/vpcOrigin:VpcOrigin", "aws:wafv2/webAcl:WebAcl"}
)


def _aws_outputs(typ: str, state: dict[str, Any], region: str) -> dict[str, Any]:
    """Computed outputs that only the provider would know."""
    name = state["name"]
    if typ == "aws:s3/bucket:Bucket":
        bucket = state.get("bucket") or f"{name}".lower()
        return {
            "bucket": bucket,
            "arn": f"arn:aws:s3:::{bucket}",
            "bucketRegionalDomainName": f"{bucket}.s3.{region}.amazonaws.com",
        }
    if typ == "aws:iam/role:Role":
        # IAM puts the role's path in its ARN (`role/philosophy-infra/prod/<name>`), as AWS does.
        return {"arn": f"arn:aws:iam::{ACCOUNT_ID}:role{state.get('path') or '/'}{name}"}
    if typ == "aws:cloudwatch/logGroup:LogGroup":
        return {"arn": f"arn:aws:logs:{state.get('region') or region}:{ACCOUNT_ID}:log-group:{name}"}
    if typ == "aws:ec2/launchTemplate:LaunchTemplate":
        return {"latestVersion": 1, "defaultVersion": 1}
    if typ == "aws:rds/instance:Instance":
        identifier = state.setdefault("identifier", name)
        address = f"{identifier}.offlineplan.{region}.rds.amazonaws.com"
        port = state.get("port", 5432)
        resource_id = f"db-OFFLINEPLAN{_short_hash(identifier).upper()}"
        secret = f"arn:aws:secretsmanager:{region}:{ACCOUNT_ID}:secret:rds!{resource_id.lower()}-AbCdEf"
        return {
            "arn": f"arn:aws:rds:{region}:{ACCOUNT_ID}:db:{identifier}",
            "address": address,
            "endpoint": f"{address}:{port}",
            "port": port,
            "resourceId": resource_id,
            "masterUserSecrets": [
                {"secretArn": secret, "kmsKeyId": state.get("masterUserSecretKmsKeyId"), "secretStatus": "active"}
            ],
        }
    if typ == "aws:elasticache/replicationGroup:ReplicationGroup":
        group_id = state.setdefault("replicationGroupId", name)
        host = f"{group_id}.offlineplan.{region}.cache.amazonaws.com"
        cluster_mode = state.get("clusterMode") == "enabled"
        return {
            "arn": f"arn:aws:elasticache:{region}:{ACCOUNT_ID}:replicationgroup:{group_id}",
            "configurationEndpointAddress": f"clustercfg.{host}" if cluster_mode else "",
            "primaryEndpointAddress": "" if cluster_mode else f"master.{host}",
            "port": state.get("port", 6379),
        }
    if typ == "aws:secretsmanager/secret:Secret":
        return {"arn": f"arn:aws:secretsmanager:{region}:{ACCOUNT_ID}:secret:{name}-AbCdEf"}
    if typ == "aws:opensearch/domain:Domain":
        # A VPC domain's endpoint, as OpenSearch Service names it (no scheme).
        domain = state.get("domainName", name)
        return {
            "arn": f"arn:aws:es:{region}:{ACCOUNT_ID}:domain/{domain}",
            "endpoint": f"vpc-{domain}-offlineplan.{region}.es.amazonaws.com",
        }
    if typ == "aws:kms/key:Key":
        key_region = state.get("region") or region
        return {"keyId": f"{name}-key-id", "arn": f"arn:aws:kms:{key_region}:{ACCOUNT_ID}:key/{name}-key-id"}
    if typ == "aws:cloudfront/distribution:Distribution":
        distribution = f"E{_short_hash(name).upper()}OFFLINE"
        return {
            "arn": f"arn:aws:cloudfront::{ACCOUNT_ID}:distribution/{distribution}",
            "domainName": f"d{_short_hash(distribution)}offline.cloudfront.net",
            # Every distribution's, for alias records.
            "hostedZoneId": "Z2FDTNDATAQYW2",
        }
    if typ == "aws:cloudfront/vpcOrigin:VpcOrigin":
        return {"arn": f"arn:aws:cloudfront::{ACCOUNT_ID}:vpcorigin/vo_offline{_short_hash(name)}"}
    if typ == "aws:wafv2/webAcl:WebAcl":
        # A CLOUDFRONT-scope ACL is global, in us-east-1.
        scope = "global" if state.get("scope") == "CLOUDFRONT" else "regional"
        acl_region = state.get("region") or region
        return {"arn": f"arn:aws:wafv2:{acl_region}:{ACCOUNT_ID}:{scope}/webacl/{name}/offline-{_short_hash(name)}"}
    if typ in (
        "aws:cloudwatch/logDeliverySource:LogDeliverySource",
        "aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination",
    ):
        kind = "delivery-source" if typ.endswith("Source") else "delivery-destination"
        return {"arn": f"arn:aws:logs:{state.get('region') or region}:{ACCOUNT_ID}:{kind}:{name}"}
    if typ == "aws:acm/certificate:Certificate":
        # The DNS record ACM asks for, as ACM names it.
        domain = state.get("domainName", name)
        token = _short_hash(domain)
        return {
            "arn": f"arn:aws:acm:{state.get('region') or region}:{ACCOUNT_ID}:certificate/{token}",
            "domainValidationOptions": [
                {
                    "domainName": domain,
                    "resourceRecordName": f"_{token}.{domain}.",
                    "resourceRecordType": "CNAME",
                    "resourceRecordValue": f"_{token}.acm-validations.aws.",
                }
            ],
        }
    if typ == "aws:acm/certificateValidation:CertificateValidation":
        return {"certificateArn": state.get("certificateArn")}
    if typ == "aws:route53/record:Record":
        return {"fqdn": str(state.get("name", name)).rstrip(".")}
    if typ == "aws:lb/loadBalancer:LoadBalancer":
        return {
            "arn": f"arn:aws:elasticloadbalancing:{region}:{ACCOUNT_ID}:loadbalancer/app/{name}/{_short_hash(name)}",
            "dnsName": f"internal-{name}-{_short_hash(name)}.{region}.elb.amazonaws.com",
        }
    if typ == "aws:lb/targetGroup:TargetGroup":
        return {"arn": f"arn:aws:elasticloadbalancing:{region}:{ACCOUNT_ID}:targetgroup/{name}/{_short_hash(name)}"}
    return {}


def _component_outputs(typ: str, name: str, state: dict[str, Any], region: str) -> dict[str, Any]:
    """Outputs of remote (multi-language) components, whose children the mocks never build."""
    if typ == "eks:index:Cluster":
        cluster = state.get("name") or name
        issuer = f"oidc.eks.{region}.amazonaws.com/id/OFFLINEPLAN{_short_hash(cluster).upper()}"
        kubeconfig = {"apiVersion": "v1", "kind": "Config", "clusters": [{"name": cluster}]}
        return {
            **state,
            "kubeconfig": kubeconfig,
            "kubeconfigJson": json.dumps(kubeconfig),
            "oidcIssuer": issuer,
            "oidcProviderUrl": f"https://{issuer}",
            "oidcProviderArn": f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{issuer}",
            "clusterSecurityGroupId": f"sg-{_short_hash(cluster + '-cluster')}",
            "nodeSecurityGroupId": f"sg-{_short_hash(cluster + '-cluster')}",
        }
    return state


@dataclass
class RecordedResource:
    urn: str
    type: str
    name: str
    custom: bool
    parent: str | None
    dependencies: list[str]
    protect: bool
    retain_on_delete: bool
    delete_before_replace: bool
    ignore_changes: list[str]
    provider: str | None
    inputs: dict[str, Any]
    id: str | None = None
    read: bool = False
    """Read, not created: a StackReference (or a `get`) that the program only looks up."""

    def to_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "id": self.id,
            "custom": self.custom,
            "parent": self.parent,
            "dependencies": self.dependencies,
            "protect": self.protect,
            "retainOnDelete": self.retain_on_delete,
            "deleteBeforeReplace": self.delete_before_replace,
            "ignoreChanges": self.ignore_changes,
            "provider": self.provider,
            "inputs": self.inputs,
            "read": self.read,
        }


class RecordingMonitor(MockMonitor):
    """A MockMonitor that keeps every registration request, in order, in plan form."""

    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self.recorded: list[RecordedResource] = []
        # MockMonitor runs on the SDK's worker threads and gives each its own event loop, which nobody
        # closes; they are kept here so the run can close them (else GC closes them at a random moment).
        self.thread_loops: set[asyncio.AbstractEventLoop] = set()

    def _note_loop(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.thread_loops.add(asyncio.get_event_loop())

    def Invoke(self, request: Any) -> Any:  # noqa: N802 - the gRPC method name
        try:
            return super().Invoke(request)  # type: ignore[no-untyped-call]
        finally:
            self._note_loop()

    def ReadResource(self, request: Any) -> Any:  # noqa: N802 - the gRPC method name
        try:
            response = super().ReadResource(request)  # type: ignore[no-untyped-call]
        finally:
            self._note_loop()
        self.recorded.append(
            RecordedResource(
                urn=response.urn,
                type=request.type,
                name=request.name,
                custom=True,
                parent=request.parent or None,
                dependencies=sorted(request.dependencies),
                protect=False,
                retain_on_delete=False,
                delete_before_replace=False,
                ignore_changes=[],
                provider=request.provider.rsplit("::", 1)[0] if request.provider else None,
                inputs=_plain(json_format.MessageToDict(request.properties, preserving_proto_field_name=True)),
                id=request.id or None,
                read=True,
            )
        )
        return response

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - the gRPC method name
        wire = json_format.MessageToDict(request.object, preserving_proto_field_name=True)
        try:
            response = super().RegisterResource(_without_resource_references(request, wire))  # type: ignore[no-untyped-call]
        finally:
            self._note_loop()
        deps = set(request.dependencies)
        for prop_deps in request.propertyDependencies.values():
            deps.update(prop_deps.urns)
        provider = request.provider.rsplit("::", 1)[0] if request.provider else None
        # A resource passed by reference is waited on too; under mocks the SDK cannot expand a remote
        # component into its children, so take the references from the inputs themselves.
        deps.update(_referenced_urns(wire))
        inputs = _plain(wire)
        self.recorded.append(
            RecordedResource(
                urn=response.urn,
                type=request.type,
                name=request.name,
                custom=bool(request.custom),
                parent=request.parent or None,
                dependencies=sorted(deps),
                protect=bool(request.protect),
                retain_on_delete=bool(request.retainOnDelete),
                delete_before_replace=bool(request.deleteBeforeReplace),
                ignore_changes=sorted(request.ignoreChanges),
                provider=provider or None,
                inputs=inputs if isinstance(inputs, dict) else {},
                id=(response.id or None) if request.custom else None,
            )
        )
        return response


def _without_resource_references(request: Any, wire: dict[str, Any]) -> Any:
    """The request with every resource reference in its inputs replaced by the resource's URN.

    MockMonitor deserializes inputs on its worker thread, where a reference to a resource whose SDK is
    loaded is rebuilt as a Resource object; that registers a read RPC on the thread's own event loop, which
    the main loop then awaits and fails on ("attached to a different loop"). A URN is all the mocks need."""
    if not _referenced_urns(wire):
        return request
    copy = type(request)()
    copy.CopyFrom(request)
    copy.object.Clear()
    copy.object.update(_urns_for_references(wire))
    return copy


def _urns_for_references(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(_SIG_KEY) == _SIG_RESOURCE:
            return value.get("urn")
        return {k: _urns_for_references(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_urns_for_references(v) for v in value]
    return value


def _referenced_urns(value: Any) -> set[str]:
    if isinstance(value, dict):
        if value.get(_SIG_KEY) == _SIG_RESOURCE and value.get("urn"):
            return {value["urn"]}
        return set().union(*(_referenced_urns(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_referenced_urns(v) for v in value)) if value else set()
    return set()


def _plain(value: Any) -> Any:
    """Wire-format value -> plain JSON: secrets masked, resource references as urn, unknowns marked."""
    if isinstance(value, dict):
        sig = value.get(_SIG_KEY)
        if sig == _SIG_SECRET:
            return SECRET
        if sig == _SIG_RESOURCE:
            return value.get("urn") or value.get("id")
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if value == _UNKNOWN_VALUE:
        return UNKNOWN
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


@dataclass
class Plan:
    project: str
    stack: str
    resources: list[RecordedResource]
    outputs: dict[str, Any]
    seconds: float
    warnings: list[str] = field(default_factory=list)
    secret_output_names: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "schemaVersion": SCHEMA_VERSION,
            "project": self.project,
            "stack": self.stack,
            "resources": [r.to_json() for r in self.resources],
            "outputs": self.outputs,
        }

    # Conveniences for tests and tools.
    def of_type(self, type_token: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str, name: str | None = None) -> RecordedResource:
        found = [r for r in self.of_type(type_token) if name is None or r.name == name]
        if len(found) != 1:
            raise LookupError(f"expected one {type_token} named {name!r}, found {[r.name for r in found]}")
        return found[0]

    def by_urn(self, urn: str) -> RecordedResource:
        return next(r for r in self.resources if r.urn == urn)

    def type_counts(self) -> Counter[str]:
        return Counter(r.type for r in self.resources if r.type != "pulumi:pulumi:Stack")


class _WarningCollector:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def debug(self, msg: str) -> None:
        pass

    def info(self, msg: str) -> None:
        pass

    def warning(self, msg: str) -> None:
        self.messages.append(msg)

    def error(self, msg: str) -> None:
        self.messages.append(msg)


def run_program(
    program: Callable[[], Any],
    *,
    project: str,
    stack: str,
    config: Mapping[str, str],
    secret_keys: list[str] | None = None,
    region: str | None = None,
    stack_references: StackReferenceAnswers | None = None,
) -> Plan:
    """Run `program` (which registers resources) under fresh mocks and return what it registered.

    `stack_references`: the outputs a StackReference to another layer's stack reads."""
    region = region or config.get("aws:region") or "eu-west-1"
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    runtime_settings.ROOT.set(None)
    pulumi.runtime.set_all_config(dict(config), list(secret_keys or []))
    mocks = PlanMocks(region, stack_references)
    monitor = RecordingMonitor(mocks)
    collector = _WarningCollector()
    set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor, logger=collector)  # type: ignore[arg-type]
    try:
        started = time.perf_counter()
        try:
            _sync_await(run_pulumi_func(program))
        except Exception as exc:
            # Whoever handles the failure can still see how far the program got.
            exc.registered_resources = list(monitor.recorded)  # type: ignore[attr-defined]
            raise
        outputs, secret_names = _resolve_outputs()
        seconds = time.perf_counter() - started
        # The SDK registers from a thread pool, so arrival order varies; a plan people diff must not.
        resources = sorted(monitor.recorded, key=lambda r: (r.parent is not None, r.urn))
        return Plan(project, stack, resources, outputs, seconds, collector.messages, secret_names)
    finally:
        runtime_settings.ROOT.set(None)
        pulumi.runtime.set_all_config({}, [])
        # The mock monitor's worker threads each made an event loop; ending the threads now closes those
        # loops here rather than at interpreter exit.
        for thread_loop in monitor.thread_loops - {loop}:
            thread_loop.close()
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
        asyncio.set_event_loop(None)


def _resolve_outputs() -> tuple[dict[str, Any], list[str]]:
    """The stack's outputs (secrets masked) and the names of the secret ones."""
    root = runtime_settings.get_root_resource()
    exported: dict[str, Any] = getattr(root, "outputs", {}) or {}
    resolved: dict[str, Any] = {}
    secret_names: list[str] = []
    for name, value in exported.items():
        output = pulumi.Output.from_input(value)
        if _sync_await(output.is_secret()):
            resolved[name] = SECRET
            secret_names.append(name)
        else:
            resolved[name] = _plain(json.loads(json.dumps(_sync_await(output.future()), default=str)))
    return resolved, sorted(secret_names)
