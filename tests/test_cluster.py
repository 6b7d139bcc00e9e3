"""EKS cluster, node groups and add-ons: the arguments we pass (pulumi-eks components are remote under mocks)."""

from __future__ import annotations

import json

import pytest

from components.aws.cluster.eks_cluster import EksCluster, EksClusterArgs
from philosophy_infra.config.cluster import EndpointAccess
from philosophy_infra.plan import SECRET, Plan, RecordedResource
from tests.conftest import TEST_ROLE_LIMITS, encode, raw_config, run, run_stack

CLUSTER = "eks:index:Cluster"
MNG = "eks:index:ManagedNodeGroup"


def group(plan: Plan, key: str) -> RecordedResource:
    return plan.one(MNG, f"{key}-mng")


@pytest.mark.parametrize("stack", ["prod", "staging"])
def test_cluster_is_private_audited_encrypted_and_on_standard_support(
    stack: str, request: pytest.FixtureRequest
) -> None:
    plan: Plan = request.getfixturevalue(f"{stack}_plan")
    c = plan.one(CLUSTER).inputs
    assert c["version"] == "1.35" and c["upgradePolicy"] == {"supportType": "STANDARD"}
    assert c["endpointPrivateAccess"] is True and c["endpointPublicAccess"] is False and "publicAccessCidrs" not in c
    assert c["authenticationMode"] == "API"
    assert list(c["accessEntries"]) == ["admin"]
    admin = c["accessEntries"]["admin"]
    assert admin["principalArn"].startswith("arn:aws:iam::") and ":role/" in admin["principalArn"]
    assert admin["accessPolicies"] == {
        "cluster-admin": {
            "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
            "accessScope": {"type": "cluster"},
        }
    }
    assert c["createOidcProvider"] is True
    assert c["enabledClusterLogTypes"] == ["api", "audit", "authenticator", "controllerManager", "scheduler"]
    key = plan.one("aws:kms/key:Key", "cluster-secrets-key")
    assert key.inputs["enableKeyRotation"] is True and key.urn in plan.one(CLUSTER).dependencies
    assert key.protect is (stack == "prod")
    assert c["encryptionConfigKeyArn"].startswith("arn:aws:kms:")
    assert c["skipDefaultNodeGroup"] is True and c["corednsAddonOptions"]["enabled"] is False
    assert c["privateSubnetIds"] == plan.outputs["privateSubnetIds"] and "publicSubnetIds" not in c
    assert c["deletionProtection"] is (stack == "prod")
    assert plan.one(CLUSTER).protect is (stack == "prod")


def test_control_plane_log_group_is_created_first_with_retention(prod_plan: Plan) -> None:
    group_ = prod_plan.one("aws:cloudwatch/logGroup:LogGroup", "cluster-control-plane-logs")
    cluster = prod_plan.one(CLUSTER)
    assert group_.inputs["name"] == f"/aws/eks/{cluster.inputs['name']}/cluster"
    assert group_.inputs["retentionInDays"] == 365
    assert group_.urn in cluster.dependencies
    key = prod_plan.one("aws:kms/key:Key", "cluster-logs-encryption-key")
    assert group_.inputs["kmsKeyId"].startswith("arn:aws:kms:") and key.urn in group_.dependencies
    arns = [st["Condition"]["ArnLike"] for st in json.loads(key.inputs["policy"])["Statement"] if "Condition" in st]
    logs = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/eks/philosophy-prod/*"
    assert arns == [{"kms:EncryptionContext:aws:logs:arn": logs}]


def test_public_endpoint_only_for_listed_cidrs() -> None:
    def build(cidrs: list[str]) -> None:
        EksCluster(
            "c",
            EksClusterArgs(
                cluster_name="t",
                kubernetes_version="1.35",
                vpc_id="vpc-1",
                private_subnet_ids=["s-1", "s-2"],
                admin_role_arn="arn:aws:iam::111122223333:role/admin",
                role_limits=TEST_ROLE_LIMITS,
                endpoint_access=EndpointAccess.PRIVATE_AND_PUBLIC,
                public_access_cidrs=cidrs,
            ),
        )

    plan = run(lambda: build(["203.0.113.0/24"]))
    c = plan.one(CLUSTER).inputs
    assert c["endpointPublicAccess"] is True and c["publicAccessCidrs"] == ["203.0.113.0/24"]
    with pytest.raises(ValueError, match="public_access_cidrs"):
        run(lambda: build([]))


def test_kubeconfig_is_a_secret_everywhere(prod_plan: Plan) -> None:
    assert prod_plan.outputs["kubeconfig"] == SECRET
    assert prod_plan.one("pulumi:providers:kubernetes").inputs["kubeconfig"] == SECRET


@pytest.mark.parametrize(
    ("stack", "key", "instance", "sizes", "labels"),
    [
        ("prod", "general", "t3.large", (3, 5, 10), {"Type": "general"}),
        ("prod", "compute", "c5.xlarge", (2, 3, 5), {"Type": "compute", "Workload": "ai-processing"}),
        ("staging", "general", "t3.large", (1, 2, 4), {"Type": "general"}),
        ("staging", "compute", "c5.xlarge", (1, 1, 2), {"Type": "compute", "Workload": "ai-processing"}),
    ],
)
def test_node_groups_from_config(
    stack: str,
    key: str,
    instance: str,
    sizes: tuple[int, int, int],
    labels: dict[str, str],
    request: pytest.FixtureRequest,
) -> None:
    plan: Plan = request.getfixturevalue(f"{stack}_plan")
    g = group(plan, key).inputs
    assert g["instanceTypes"] == [instance]
    assert (g["scalingConfig"]["minSize"], g["scalingConfig"]["desiredSize"], g["scalingConfig"]["maxSize"]) == sizes
    assert g["labels"] == {"Environment": stack, **labels}
    assert g["operatingSystem"] == "AL2023"
    assert g["version"] == plan.one(CLUSTER).inputs["version"]
    assert g["ignoreScalingChanges"] is True
    assert g["subnetIds"] == plan.outputs["privateSubnetIds"]
    assert g["cluster"] == plan.one(CLUSTER).urn


def test_compute_nodes_are_tainted_in_the_eks_api_spelling(prod_plan: Plan) -> None:
    assert group(prod_plan, "compute").inputs["taints"] == [
        {"key": "ai-workload", "value": "true", "effect": "NO_SCHEDULE"}
    ]
    assert group(prod_plan, "general").inputs["taints"] == []


@pytest.mark.parametrize("key", ["general", "compute"])
def test_nodes_require_imdsv2_and_encrypt_root_volumes(prod_plan: Plan, key: str) -> None:
    lt = prod_plan.one("aws:ec2/launchTemplate:LaunchTemplate", f"{key}-lt")
    assert lt.inputs["metadataOptions"]["httpTokens"] == "required"
    assert lt.inputs["metadataOptions"]["httpPutResponseHopLimit"] == 1
    [disk] = lt.inputs["blockDeviceMappings"]
    assert disk["ebs"]["encrypted"] == "true" and disk["ebs"]["volumeType"] == "gp3"
    assert group(prod_plan, key).inputs["launchTemplate"]["id"] == lt.id


@pytest.mark.parametrize("key", ["general", "compute"])
def test_node_role_has_only_the_policies_nodes_need(prod_plan: Plan, key: str) -> None:
    role = prod_plan.one("aws:iam/role:Role", f"{key}-role")
    attached = sorted(
        a.inputs["policyArn"].rsplit("/", 1)[1]
        for a in prod_plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.parent == role.urn
    )
    assert attached == [
        "AmazonEC2ContainerRegistryPullOnly",
        "AmazonEKSWorkerNodePolicy",
        "AmazonEKS_CNI_Policy",
        "AmazonSSMManagedInstanceCore",
    ]
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    assert group(prod_plan, key).inputs["nodeRole"] == role.urn


def test_core_addons_come_with_the_cluster(prod_plan: Plan) -> None:
    c = prod_plan.one(CLUSTER).inputs
    assert c["vpcCniOptions"]["enableNetworkPolicy"] is True
    # Not pulumi-eks's DEBUG (nodejs/eks/addons/cni-addon.ts) on every node, for either of the CNI's logs.
    assert c["vpcCniOptions"]["logLevel"] == "INFO"
    assert c["vpcCniOptions"]["configurationValues"]["env"]["AWS_VPC_K8S_PLUGIN_LOG_LEVEL"] == "INFO"
    # It applies only to pulumi-eks's own (skipped) node group: set, it would only mislead.
    assert "nodeAssociatePublicIpAddress" not in c
    assert c["vpcCniOptions"]["addonVersion"] and c["kubeProxyAddonOptions"]["version"]


def test_coredns_waits_for_the_node_groups(prod_plan: Plan) -> None:
    coredns = prod_plan.one("aws:eks/addon:Addon", "addons-coredns")
    assert coredns.inputs["addonName"] == "coredns"
    assert coredns.inputs["clusterName"] == prod_plan.one(CLUSTER).inputs["name"]
    assert {group(prod_plan, "general").urn, group(prod_plan, "compute").urn, prod_plan.one(CLUSTER).urn} <= set(
        coredns.dependencies
    )


def test_ebs_csi_driver_has_its_own_irsa_role(prod_plan: Plan) -> None:
    addon = prod_plan.one("aws:eks/addon:Addon", "addons-ebs-csi")
    role = prod_plan.one("aws:iam/role:Role", "addons-ebs-csi-role")
    assert addon.inputs["addonName"] == "aws-ebs-csi-driver"
    role_path_and_name = addon.inputs["serviceAccountRoleArn"].split(":role/")[1]
    assert role_path_and_name.startswith("philosophy-infra/prod/addons-ebs-csi-role")
    assert role.urn in addon.dependencies
    [statement] = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    issuer = prod_plan.outputs["oidcIssuer"]
    assert statement["Principal"] == {"Federated": prod_plan.outputs["oidcProviderArn"]}
    assert statement["Condition"]["StringEquals"] == {
        f"{issuer}:sub": "system:serviceaccount:kube-system:ebs-csi-controller-sa",
        f"{issuer}:aud": "sts.amazonaws.com",
    }
    [attachment] = [
        a for a in prod_plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") if a.parent == role.urn
    ]
    assert attachment.inputs["policyArn"] == "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"


def test_default_storage_class_is_encrypted_gp3(prod_plan: Plan, staging_plan: Plan) -> None:
    sc = prod_plan.one("kubernetes:storage.k8s.io/v1:StorageClass", "storage-gp3")
    assert sc.inputs["provisioner"] == "ebs.csi.aws.com"
    assert sc.inputs["parameters"]["type"] == "gp3" and sc.inputs["parameters"]["encrypted"] == "true"
    assert sc.inputs["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
    assert sc.inputs["volumeBindingMode"] == "WaitForFirstConsumer"
    assert sc.provider == prod_plan.one("pulumi:providers:kubernetes").urn
    # Retained in the protected stack, as the AWS layer's dataProtection says (read through the StackReference).
    assert sc.inputs["reclaimPolicy"] == "Retain"
    assert (
        staging_plan.one("kubernetes:storage.k8s.io/v1:StorageClass", "storage-gp3").inputs["reclaimPolicy"] == "Delete"
    )


def test_pinned_addon_versions_are_used() -> None:
    raw = raw_config("staging")
    raw["philosophy-infra:cluster"]["addonVersions"] = {
        "coredns": "v1.12.4-eksbuild.1",
        "vpc-cni": "v1.20.4-eksbuild.2",
    }
    plan = run_stack("staging", encode(raw))
    assert plan.one("aws:eks/addon:Addon", "addons-coredns").inputs["addonVersion"] == "v1.12.4-eksbuild.1"
    assert plan.one(CLUSTER).inputs["vpcCniOptions"]["addonVersion"] == "v1.20.4-eksbuild.2"


def test_unpinned_addons_resolve_to_eks_default_for_the_minor_not_the_newest_build(prod_plan: Plan) -> None:
    # The newest build moves whenever EKS publishes one; the default moves only when EKS changes it. The offline
    # plan answers `get_addon_version` with which of the two was asked for.
    versions = {a.inputs["addonName"]: a.inputs["addonVersion"] for a in prod_plan.of_type("aws:eks/addon:Addon")}
    assert versions == dict.fromkeys(("coredns", "aws-ebs-csi-driver", "metrics-server"), "eks-default-for-1.35")
    cluster = prod_plan.one(CLUSTER).inputs
    assert cluster["vpcCniOptions"]["addonVersion"] == cluster["kubeProxyAddonOptions"]["version"]
    assert cluster["kubeProxyAddonOptions"]["version"] == "eks-default-for-1.35"


@pytest.mark.parametrize("stack", ["prod", "staging"])
def test_what_costs_money_carries_the_stacks_tags(stack: str, request: pytest.FixtureRequest) -> None:
    """Provider default tags never reach launch-template tag specifications (terraform-provider-aws #19387) nor
    the volumes the EBS CSI driver creates: both get the stack's tags explicitly."""
    plan: Plan = request.getfixturevalue(f"{stack}_plan")
    provider = plan.one("pulumi:providers:aws", "aws")
    tags = json.loads(provider.inputs["defaultTags"])["tags"]  # a provider's inputs are JSON text
    assert {"Owner", "CostCenter", "Environment", "Project"} <= set(tags)
    for template in plan.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        specs = {s["resourceType"]: s["tags"] for s in template.inputs["tagSpecifications"]}
        assert set(specs) == {"instance", "volume", "network-interface"}
        for kind, given in specs.items():
            assert {k: v for k, v in given.items() if k != "Name"} == tags, (template.name, kind)
            assert given["Name"].startswith(f"philosophy-{stack}-")
    ebs = plan.one("aws:eks/addon:Addon", "addons-ebs-csi")
    assert json.loads(ebs.inputs["configurationValues"]) == {"controller": {"extraVolumeTags": tags}}
    # The pods' network interfaces, which the VPC CNI attaches after launch (amazon-vpc-cni-k8s ADDITIONAL_ENI_TAGS).
    cni = plan.one(CLUSTER).inputs["vpcCniOptions"]["configurationValues"]["env"]
    assert json.loads(cni["ADDITIONAL_ENI_TAGS"]) == tags
