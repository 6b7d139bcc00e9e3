"""Human output of an offline plan: a header with the stack's key config, the component tree with each
resource's key settings, the counts and the outputs.

The report is deterministic (two runs of the same checkout print the same bytes; timings go to stderr) and
shows, for each resource, the settings that matter for its type in a fixed order, never a subset that depends
on the order the engine sent the inputs in. Values are never cut mid-word: a long value is shortened at a
boundary with an ellipsis, and the JSON plan (`--json`) has it whole. Lines are wrapped between settings.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from philosophy_infra.plan import Plan, RecordedResource

WIDTH = 118
VALUE_LIMIT = 100
_FALLBACK_SETTINGS = 6
# Inputs that add noise rather than meaning to a summary: tags come from the provider, policies are JSON
# documents (read them in the JSON plan), descriptions are prose.
_SKIP = frozenset({"tags", "tagsAll", "description", "__defaults", "policy", "assumeRolePolicy"})

# The settings a reviewer looks for, by type, in the order shown. A type not listed shows its first few scalar
# inputs in name order.
KEY_SETTINGS: dict[str, tuple[str, ...]] = {
    "aws:ec2/vpc:Vpc": ("cidrBlock", "enableDnsHostnames", "enableDnsSupport"),
    "aws:ec2/subnet:Subnet": ("cidrBlock", "availabilityZone", "mapPublicIpOnLaunch"),
    "aws:ec2/natGateway:NatGateway": ("connectivityType", "subnetId"),
    "aws:ec2/flowLog:FlowLog": ("trafficType", "logDestinationType", "maxAggregationInterval"),
    "aws:ec2/launchTemplate:LaunchTemplate": ("metadataOptions", "blockDeviceMappings"),
    "aws:ec2/securityGroup:SecurityGroup": ("name", "vpcId", "revokeRulesOnDelete"),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": (
        "ipProtocol",
        "fromPort",
        "toPort",
        "cidrIpv4",
        "referencedSecurityGroupId",
    ),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": ("ipProtocol", "fromPort", "toPort", "cidrIpv4"),
    "aws:iam/role:Role": ("path", "permissionsBoundary", "maxSessionDuration"),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ("policyArn",),
    "aws:iam/policy:Policy": ("name", "path"),
    "aws:kms/key:Key": ("enableKeyRotation", "deletionWindowInDays", "multiRegion"),
    "aws:kms/alias:Alias": ("name",),
    "aws:cloudwatch/logGroup:LogGroup": ("name", "retentionInDays", "kmsKeyId"),
    "aws:s3/bucket:Bucket": ("bucket", "bucketPrefix", "forceDestroy"),
    "aws:s3/bucketVersioning:BucketVersioning": ("versioningConfiguration",),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": (
        "blockPublicAcls",
        "blockPublicPolicy",
        "ignorePublicAcls",
        "restrictPublicBuckets",
    ),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": ("rules",),
    "aws:secretsmanager/secret:Secret": ("name", "recoveryWindowInDays", "kmsKeyId"),
    "aws:rds/instance:Instance": (
        "identifier",
        "engine",
        "engineVersion",
        "instanceClass",
        "allocatedStorage",
        "maxAllocatedStorage",
        "multiAz",
        "storageEncrypted",
        "publiclyAccessible",
        "iamDatabaseAuthenticationEnabled",
        "deletionProtection",
        "backupRetentionPeriod",
        "applyImmediately",
    ),
    "aws:rds/parameterGroup:ParameterGroup": ("family", "parameters"),
    "aws:elasticache/replicationGroup:ReplicationGroup": (
        "replicationGroupId",
        "engine",
        "engineVersion",
        "nodeType",
        "clusterMode",
        "numNodeGroups",
        "replicasPerNodeGroup",
        "multiAzEnabled",
        "transitEncryptionEnabled",
        "atRestEncryptionEnabled",
        "applyImmediately",
    ),
    "aws:elasticache/parameterGroup:ParameterGroup": ("family", "parameters"),
    "eks:index:Cluster": (
        "name",
        "version",
        "endpointPrivateAccess",
        "endpointPublicAccess",
        "publicAccessCidrs",
        "authenticationMode",
        "deletionProtection",
    ),
    "eks:index:ManagedNodeGroup": ("instanceTypes", "capacityType", "scalingConfig", "labels", "taints"),
    "aws:eks/addon:Addon": ("addonName", "addonVersion", "serviceAccountRoleArn"),
    "aws:eks/accessEntry:AccessEntry": ("principalArn", "type", "kubernetesGroups"),
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": ("principalArn", "policyArn", "accessScope"),
    "aws:codebuild/project:Project": ("name", "environment"),
    "aws:codebuild/webhook:Webhook": ("projectName", "filterGroups"),
    "aws:ecr/repository:Repository": ("name", "imageTagMutability", "imageScanningConfiguration"),
    "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration": ("scanType", "rules"),
    "pulumi:providers:aws": ("region",),
    "kubernetes:helm.sh/v3:Release": ("chart", "version", "namespace", "repositoryOpts"),
}
# Remote components: a provider plugin creates their children at deploy time, so a plan (this one or a preview
# without the plugin) shows only the inputs they are given.
REMOTE_COMPONENT_PACKAGES = ("eks:",)


def render(plan: Plan, release: Sequence[dict[str, Any]] = (), release_path: str = "") -> str:
    """The report of a plan; a plan of several layers shows each layer in turn, in deploy order, then the
    service's release objects (`release`, Argo CD's: what its Application syncs from `release_path`)."""
    layers = getattr(plan, "layers", None)
    if not layers:
        return _render_one(plan)
    parts = [
        f"Offline plan of stack {plan.stack}: {len(layers)} layer(s), in deploy order "
        "(mock runtime: no cloud, no credentials)"
    ]
    for layer, layer_plan in layers:
        parts += ["", f"=== Layer {layer.name.value}: {layer_plan.project}/{layer_plan.stack}", ""]
        parts.append(_render_one(layer_plan, header=False))
    if release:
        parts += ["", f"=== Release objects: Argo CD syncs {release_path}/ (not Pulumi resources)", ""]
        for obj in release:
            parts.extend(wrap([f"{obj['kind']}", *kubernetes_fields(obj)], "  "))
    counts = plan.type_counts()
    parts += ["", f"Resources: {sum(counts.values())} in all"]
    return "\n".join(parts)


def timing(plan: Plan, import_seconds: float | None) -> str:
    """How long the plan took: printed apart from the report, which must not change from run to run."""
    text = f"program {plan.seconds:.2f}s"
    if import_seconds is not None:
        text = f"SDK imports {import_seconds:.2f}s, {text}"
    return f"time: {text}"


def _render_one(plan: Plan, *, header: bool = True) -> str:
    children: dict[str | None, list[RecordedResource]] = {}
    for r in plan.resources:
        children.setdefault(r.parent, []).append(r)
    lines = (
        [f"Offline plan of {plan.project}/{plan.stack} (mock runtime: no cloud, no credentials)", ""] if header else []
    )
    key_config = list(key_config_lines(plan))
    if key_config:
        lines.append("Key config:")
        for line in key_config:
            lines.extend(wrap(line.split(" "), "  "))
        lines.append("")
    remote = remote_components_line(plan)
    if remote:
        lines += [remote, ""]

    def walk(resource: RecordedResource, depth: int) -> None:
        marks = "".join(
            [
                " [protected]" if resource.protect else "",
                " [retain on delete]" if resource.retain_on_delete else "",
                " [read]" if resource.read else "",
            ]
        )
        indent = "  " * depth
        lines.append(f"{indent}{resource.type} {resource.name}{marks}")
        lines.extend(wrap(settings(resource), f"{indent}    "))
        for child in sorted(children.get(resource.urn, []), key=lambda r: (r.type, r.name)):
            walk(child, depth + 1)

    for root in sorted(children.get(None, []), key=lambda r: (r.type, r.name)):
        walk(root, 0)

    counts = plan.type_counts()
    lines += ["", f"Resources: {sum(counts.values())}"]
    lines += [f"  {count:4d}  {type_}" for type_, count in sorted(counts.items())]
    lines += ["", "Outputs:"]
    for name, value in sorted(plan.outputs.items()):
        lines.extend(wrap([f"{name}: {shorten(value, WIDTH - 4 - len(name))}"], "  "))
    for warning in plan.warnings:
        lines.append(f"warning: {warning}")
    return "\n".join(lines)


def key_config_lines(plan: Plan) -> Iterator[str]:
    """What a reviewer checks first, from what the plan itself holds (outputs and inputs)."""
    outputs = plan.outputs
    facts = [
        f"{label} {outputs[key]}"
        for key, label in (("region", "region"), ("drRegion", "DR region"), ("dataProtection", "dataProtection"))
        if isinstance(outputs.get(key), str)
    ]
    if facts:
        yield ", ".join(facts)
    for cluster in plan.of_type("eks:index:Cluster"):
        i = cluster.inputs
        endpoint = "private and public" if i.get("endpointPublicAccess") else "private"
        yield f"EKS {i.get('name')}: Kubernetes {i.get('version')}, {endpoint} endpoint"
        addons = {
            "vpc-cni": (i.get("vpcCniOptions") or {}).get("addonVersion"),
            "kube-proxy": (i.get("kubeProxyAddonOptions") or {}).get("version"),
        }
        addons |= {
            str(a.inputs.get("addonName")): a.inputs.get("addonVersion") for a in plan.of_type("aws:eks/addon:Addon")
        }
        yield "add-ons: " + ", ".join(f"{name} {version}" for name, version in sorted(addons.items()) if version)
    for group in sorted(plan.of_type("eks:index:ManagedNodeGroup"), key=lambda r: r.name):
        i = group.inputs
        scaling = i.get("scalingConfig") or {}
        types = ",".join(i.get("instanceTypes") or [])
        yield (
            f"node group {group.name}: {types} {i.get('capacityType', '')}, "
            f"{scaling.get('minSize')}..{scaling.get('maxSize')} nodes (desired {scaling.get('desiredSize')})"
        )
    for db in plan.of_type("aws:rds/instance:Instance"):
        i = db.inputs
        multi = "Multi-AZ" if i.get("multiAz") else "single-AZ"
        engine = f"{i.get('engine')} {i.get('engineVersion')}"
        yield f"database {i.get('identifier')}: {engine} {i.get('instanceClass')}, {multi}"
    for cache in plan.of_type("aws:elasticache/replicationGroup:ReplicationGroup"):
        i = cache.inputs
        yield (
            f"cache {i.get('replicationGroupId')}: {i.get('engine')} {i.get('engineVersion')} {i.get('nodeType')}, "
            f"{i.get('numNodeGroups', 1)} shard(s) x {1 + int(i.get('replicasPerNodeGroup') or 0)} node(s)"
        )
    for release in sorted(plan.of_type("kubernetes:helm.sh/v3:Release"), key=lambda r: r.name):
        i = release.inputs
        yield f"chart {i.get('chart')} {i.get('version')} in {i.get('namespace')}"


def remote_components_line(plan: Plan) -> str | None:
    remote = sorted({r.type for r in plan.resources if r.type.startswith(REMOTE_COMPONENT_PACKAGES)})
    if not remote:
        return None
    return (
        f"Not shown: the children of remote components ({', '.join(remote)}). Their plugin creates them at "
        "deploy time (the EKS cluster, its add-ons, the node groups' own resources); the plan shows the inputs "
        "they are given."
    )


def settings(resource: RecordedResource) -> list[str]:
    """`key=value` for the settings that matter for this type, in a fixed order."""
    if resource.type.startswith("kubernetes:") and "metadata" in resource.inputs:
        return kubernetes_fields(resource.inputs)
    inputs = resource.inputs
    keys = KEY_SETTINGS.get(resource.type)
    if keys is None:
        keys = tuple(k for k in sorted(inputs) if _scalar(k, inputs[k]))[:_FALLBACK_SETTINGS]
    return [f"{key}={shorten(inputs[key])}" for key in keys if key in inputs and inputs[key] is not None]


def _scalar(key: str, value: Any) -> bool:
    if key in _SKIP or (isinstance(value, str) and value.startswith("urn:pulumi:")):
        return False
    return isinstance(value, (str, int, float, bool)) or (
        isinstance(value, list) and all(isinstance(v, (str, int, float, bool)) for v in value)
    )


def kubernetes_fields(obj: dict[str, Any]) -> list[str]:
    """A Kubernetes object's identity and the fields that say what it does."""
    meta = obj.get("metadata") or {}
    name = f"{meta['namespace']}/{meta.get('name')}" if meta.get("namespace") else str(meta.get("name"))
    spec = obj.get("spec") or {}
    kind = obj.get("kind", "")
    fields = [f"name={name}"]
    pod = ((spec.get("template") or {}).get("spec") or {}) if isinstance(spec, dict) else {}
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        if "replicas" in spec:
            fields.append(f"replicas={spec['replicas']}")
        images = [c.get("image") for c in [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]]
        fields.append(f"images={shorten(','.join(str(i) for i in images))}")
        if pod.get("serviceAccountName"):
            fields.append(f"serviceAccount={pod['serviceAccountName']}")
    elif kind == "Service":
        ports = ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or [])
        fields += [f"type={spec.get('type', 'ClusterIP')}", f"ports={ports}"]
    elif kind == "ConfigMap":
        fields.append(f"keys={shorten(','.join(sorted(obj.get('data') or {})))}")
    elif kind == "NetworkPolicy":
        fields += [f"podSelector={shorten(spec.get('podSelector'))}", f"policyTypes={shorten(spec.get('policyTypes'))}"]
    elif kind == "Rollout":
        steps = (((spec.get("strategy") or {}).get("canary") or {}).get("steps")) or []
        weights = ",".join(str(step["setWeight"]) for step in steps if "setWeight" in step)
        images = [c.get("image") for c in pod.get("containers") or []]
        fields += [f"canary={weights}", f"images={shorten(','.join(str(i) for i in images))}"]
    elif kind == "HorizontalPodAutoscaler":
        fields += [f"minReplicas={spec.get('minReplicas')}", f"maxReplicas={spec.get('maxReplicas')}"]
    elif kind == "PodDisruptionBudget":
        budget = "maxUnavailable" if "maxUnavailable" in spec else "minAvailable"
        fields.append(f"{budget}={spec.get(budget)}")
    elif kind == "ServiceAccount":
        role = (meta.get("annotations") or {}).get("eks.amazonaws.com/role-arn")
        if role:
            fields.append(f"role={shorten(role)}")
    elif kind == "Namespace":
        enforce = (meta.get("labels") or {}).get("pod-security.kubernetes.io/enforce")
        fields.append(f"podSecurity={enforce}")
    elif kind == "StorageClass":
        fields += [f"provisioner={obj.get('provisioner')}", f"parameters={shorten(obj.get('parameters'))}"]
    elif kind in ("ClusterRole", "Role"):
        fields.append(f"rules={len(obj.get('rules') or [])}")
    elif kind in ("ClusterRoleBinding", "RoleBinding"):
        subjects = ",".join(str(s.get("name")) for s in obj.get("subjects") or [])
        fields += [f"role={(obj.get('roleRef') or {}).get('name')}", f"subjects={subjects}"]
    elif kind == "ExternalSecret":
        generators = [
            str(g.get("kind"))
            for source in spec.get("dataFrom") or []
            if (g := (source.get("sourceRef") or {}).get("generatorRef"))
        ]
        fields += [
            f"generator={','.join(generators)}"
            if generators
            else f"store={(spec.get('secretStoreRef') or {}).get('name')}",
            f"target={(spec.get('target') or {}).get('name')}",
            f"refreshInterval={spec.get('refreshInterval')}",
        ]
    elif kind == "VerticalPodAutoscaler":
        fields.append(f"updateMode={(spec.get('updatePolicy') or {}).get('updateMode')}")
    return fields


def shorten(value: Any, limit: int = VALUE_LIMIT) -> str:
    """A value as text, at most `limit` characters: cut at a boundary (space, comma, slash, colon), never inside
    a word, and marked with an ellipsis."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    if len(text) <= limit:
        return text
    separators = (" ", ",", "/", ":", "=")
    cut = max(text.rfind(sep, 0, limit - 1) for sep in separators)
    if cut < limit // 3:
        # No boundary early enough: the first one after the limit, or the whole value (a single long word).
        later = [i for i in (text.find(sep, limit - 1) for sep in separators) if i != -1]
        if not later:
            return text
        cut = min(later)
    return text[: cut + 1].rstrip() + "…"


def wrap(parts: Sequence[str], indent: str, width: int = WIDTH) -> list[str]:
    """Parts joined by spaces into lines of at most `width` characters, breaking only between parts."""
    lines: list[str] = []
    current = ""
    for part in parts:
        candidate = f"{current} {part}" if current else part
        if current and len(indent) + len(candidate) > width:
            lines.append(indent + current)
            current = part
        else:
            current = candidate
    if current:
        lines.append(indent + current)
    return lines
