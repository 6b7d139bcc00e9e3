"""Whole stacks through the offline plan, and the `philosophy-infra plan` CLI contract."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from philosophy_infra import cli
from philosophy_infra.plan import SECRET, Plan
from tests.conftest import ROOT, run, run_stack

CLI = [sys.executable, "-m", "philosophy_infra"]


def test_both_stacks_build(prod_plan: Plan, staging_plan: Plan) -> None:
    for plan in (prod_plan, staging_plan):
        assert plan.of_type("philosophy:index:Network") and plan.of_type("philosophy:index:AssetsBucket")
        assert plan.outputs["vpcId"] and plan.outputs["assetsBucketName"]


def test_stacks_differ_where_they_should(prod_plan: Plan, staging_plan: Plan) -> None:
    nat = "aws:ec2/natGateway:NatGateway"
    assert (len(prod_plan.of_type(nat)), len(staging_plan.of_type(nat))) == (3, 1)
    assert prod_plan.of_type("aws:ec2/vpnGateway:VpnGateway") and not staging_plan.of_type(
        "aws:ec2/vpnGateway:VpnGateway"
    )
    assert prod_plan.one("aws:s3/bucket:Bucket", "assets-bucket").protect
    assert not staging_plan.one("aws:s3/bucket:Bucket", "assets-bucket").protect
    assert prod_plan.outputs["vpcCidr"] == "10.0.0.0/16" and staging_plan.outputs["vpcCidr"] == "10.1.0.0/16"


def test_default_tags_are_applied_once_through_the_provider(prod_plan: Plan) -> None:
    provider = prod_plan.one("pulumi:providers:aws", "aws")
    tags = json.loads(provider.inputs["defaultTags"])["tags"]
    assert tags["ManagedBy"] == "pulumi" and tags["Environment"] == "prod" and tags["Owner"] == "platform-team"
    assert tags["Project"] == "philosophy-infra" and tags["CostCenter"] == "philosophy-prod"
    assert provider.inputs["region"] == "eu-west-1"
    aws_resources = [r for r in prod_plan.resources if r.type.startswith("aws:")]
    # The VPC origin alone uses an untagged provider: a tag change on it would fail (409) while CloudFront uses it.
    untagged = prod_plan.one("pulumi:providers:aws", "aws-untagged")
    assert "defaultTags" not in untagged.inputs and untagged.inputs["region"] == "eu-west-1"
    assert [r.type for r in aws_resources if r.provider == untagged.urn] == ["aws:cloudfront/vpcOrigin:VpcOrigin"]
    # The DR region's provider: the same tags, its own region; it carries only what lives there.
    dr = prod_plan.one("pulumi:providers:aws", "aws-dr")
    assert json.loads(dr.inputs["defaultTags"]) == json.loads(provider.inputs["defaultTags"])
    assert dr.inputs["region"] == "eu-central-1"
    in_dr = {r.type for r in aws_resources if r.provider == dr.urn}
    assert (
        "aws:backup/vault:Vault" in in_dr
        and "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication" in in_dr
    )
    assert "aws:rds/instance:Instance" not in in_dr
    assert all(r.provider in (provider.urn, dr.urn) for r in aws_resources if r.provider != untagged.urn)


def test_invalid_config_registers_nothing(prod_plan: Plan) -> None:
    from philosophy_infra.config.base import StackConfigError
    from tests.conftest import encode, raw_config

    raw = raw_config("prod")
    raw["philosophy-infra:network"]["cidr"] = "10.0.0.0/33"
    with pytest.raises(StackConfigError) as info:
        run_stack("prod", encode(raw))
    registered = info.value.registered_resources  # type: ignore[attr-defined]
    assert [r.type for r in registered] == ["pulumi:pulumi:Stack"]


def _cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it: its own process, exit code and streams."""
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def cli_in_process(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """`cli.main(args)` in this process (the SDKs are already imported), run from `cwd`, with what it prints
    captured; `sys.path` (which a plan of another checkout extends) is restored afterwards."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        patch.chdir(cwd)
        patch.setattr(sys, "path", list(sys.path))
        code = cli.main(list(args))
    return subprocess.CompletedProcess([*CLI, *args], code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="module")
def prod_json() -> dict[str, Any]:
    result = cli_in_process("plan", "--stack", "prod", "--json", "-", "--quiet")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_json_plan_follows_schema_v1(prod_json: dict[str, Any]) -> None:
    assert prod_json["schemaVersion"] == 1
    assert prod_json["project"] == "philosophy-infra" and prod_json["stack"] == "prod"
    urns = {r["urn"] for r in prod_json["resources"]}
    for r in prod_json["resources"]:
        assert {
            "urn",
            "type",
            "name",
            "id",
            "custom",
            "parent",
            "dependencies",
            "protect",
            "retainOnDelete",
            "inputs",
        } <= set(r)
        assert isinstance(r["custom"], bool) and isinstance(r["protect"], bool) and isinstance(r["inputs"], dict)
        assert (r["id"] is None) != r["custom"] or r["type"].startswith("pulumi:providers:")
        assert r["parent"] is None or r["parent"] in urns
        assert set(r["dependencies"]) <= urns, r["name"]


def test_prod_json_carries_the_seed_network(prod_json: dict[str, Any]) -> None:
    by_type: dict[str, list[dict[str, Any]]] = {}
    for r in prod_json["resources"]:
        by_type.setdefault(r["type"], []).append(r)
    [vpc] = by_type["aws:ec2/vpc:Vpc"]
    assert vpc["inputs"]["cidrBlock"] == "10.0.0.0/16" and vpc["inputs"]["enableDnsHostnames"] is True
    cidrs = sorted(s["inputs"]["cidrBlock"] for s in by_type["aws:ec2/subnet:Subnet"])
    # The seed's public and database subnets; private ones sized for the pods (the seed's /24s are too small).
    assert cidrs == sorted(
        [f"10.0.{i}.0/24" for i in (101, 102, 103, 201, 202, 203)] + [f"10.0.{i}.0/22" for i in (16, 20, 24)]
    )
    assert len(by_type["aws:ec2/vpnGateway:VpnGateway"]) == 1
    assert len(by_type["aws:ec2/natGateway:NatGateway"]) == 3
    [bucket] = [b for b in by_type["aws:s3/bucket:Bucket"] if b["name"] == "assets-bucket"]
    assert bucket["protect"] is True
    # Dependencies include resources referenced through inputs, not only explicit depends_on.
    [flow] = by_type["aws:ec2/flowLog:FlowLog"]
    assert vpc["urn"] in flow["dependencies"]


def test_human_report_shows_tree_counts_outputs_and_time() -> None:
    result = cli_in_process("plan", "--stack", "staging")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "philosophy:index:Network network" in out and "  aws:ec2/vpc:Vpc network-vpc" in out
    assert "Resources: " in out and "aws:ec2/natGateway:NatGateway" in out
    assert "Outputs:" in out and "vpcCidr: 10.1.0.0/16" in out
    # Timings change from run to run: on stderr, never in the report.
    assert "time: SDK imports" in result.stderr and "time: SDK" not in out


def test_the_human_report_is_byte_identical_across_runs_and_heads_with_the_key_config() -> None:
    first, second = (cli_in_process("plan", "--stack", "prod") for _ in range(2))
    assert first.returncode == second.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    out = first.stdout
    config = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]
    header = out[: out.index("pulumi:pulumi:Stack philosophy-infra-prod")]
    dr_region = config["philosophy-infra:disasterRecovery"]["region"]
    assert f"region {config['aws:region']}, DR region {dr_region}, dataProtection protected" in header
    assert f"Kubernetes {config['philosophy-infra:cluster']['kubernetesVersion']}, private endpoint" in header
    general = config["philosophy-infra:nodeGroups"]["general"]
    assert f"{general['minSize']}..{general['maxSize']} nodes (desired {general['desiredSize']})" in header
    # pulumi-eks's children never reach a plan: the report says so rather than pretend the tree is whole.
    assert "Not shown: the children of remote components (eks:index:Cluster, eks:index:ManagedNodeGroup)" in out
    # Kubernetes objects by namespace/name, with what they do.
    assert "name=philosophy-app/philosophy-api-hpa minReplicas=3 maxReplicas=20" in out


def test_json_on_stdout_is_only_json() -> None:
    result = cli_in_process("plan", "--stack", "staging", "--json", "-")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["stack"] == "staging"
    assert "Offline plan of" not in result.stderr and "time: SDK" not in result.stderr


@pytest.mark.parametrize("target", ["json", "manifests"])
def test_an_unwritable_output_ends_in_one_line_and_exit_1(tmp_path: Path, target: str) -> None:
    a_file = tmp_path / "plan.txt"
    a_file.write_text("not a directory")
    # Below a file: no directory can be made there, whoever runs it (root ignores a read-only mode).
    where = {"json": ["--json", str(a_file / "plan.json")], "manifests": ["--manifests", str(a_file)]}[target]
    result = cli_in_process("plan", "--stack", "staging", "--quiet", *where)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if not line.startswith("warning:")]
    assert len(errors) == 1 and errors[0].startswith("error: cannot write") and str(a_file) in errors[0]
    assert "Traceback" not in result.stderr


def test_a_closed_pipe_ends_in_one_line_not_a_traceback() -> None:
    process = subprocess.Popen(
        [*CLI, "plan", "--stack", "staging"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stderr is not None
    # The reader goes away before the report is written (`| head -0`); the plan itself takes seconds.
    process.stdout.close()
    stderr = process.stderr.read()
    assert process.wait(timeout=120) == 1
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr
    assert [line for line in stderr.splitlines() if line.startswith("error:")] == [
        "error: the output was closed before the report was written"
    ]


def test_unknown_stack_exits_2_without_traceback() -> None:
    result = _cli("plan", "--stack", "nope")
    assert result.returncode == 2
    assert "unknown stack 'nope'" in result.stderr and "Traceback" not in result.stderr


def test_broken_cidr_in_a_stack_file_exits_2_naming_it(tmp_path: Path) -> None:
    for item in ("Pulumi.yaml", "__main__.py", "components"):
        (shutil.copytree if (ROOT / item).is_dir() else shutil.copy)(ROOT / item, tmp_path / item)
    stack = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    stack["config"]["philosophy-infra:network"]["privateSubnets"][1] = "10.0.2.0/33"
    (tmp_path / "Pulumi.broken.yaml").write_text(yaml.safe_dump(stack))
    result = cli_in_process("plan", "--stack", "broken", "--project-dir", str(tmp_path))
    assert result.returncode == 2, result.stderr
    assert "philosophy-infra:network.privateSubnets[1]" in result.stderr and "10.0.2.0/33" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_secrets_are_masked_everywhere_in_the_plan() -> None:
    import pulumi_aws as aws

    def program() -> None:
        password = pulumi.Output.secret("hunter2-very-secret")
        aws.ssm.Parameter("p", type="SecureString", value=password)
        pulumi.export("password", password)
        pulumi.export("nested", {"inner": password})

    plan = run(program)
    text = json.dumps(plan.to_json())
    assert "hunter2" not in text
    assert plan.one("aws:ssm/parameter:Parameter").inputs["value"] == SECRET
    assert plan.outputs == {"password": SECRET, "nested": SECRET}


def test_secure_stack_values_never_reach_the_program(tmp_path: Path) -> None:
    from philosophy_infra.project import read_stack_file

    for item in ("Pulumi.yaml",):
        shutil.copy(ROOT / item, tmp_path / item)
    (tmp_path / "Pulumi.s.yaml").write_text(
        "config:\n  aws:region: eu-west-1\n  philosophy-infra:apiKey:\n    secure: v1:AAAA+ciphertext\n"
    )
    stack = read_stack_file(tmp_path, "s")
    assert stack.config["philosophy-infra:apiKey"] == SECRET and stack.secret_keys == ["philosophy-infra:apiKey"]
    assert "ciphertext" not in json.dumps(stack.config)


def test_plan_is_deterministic() -> None:
    first, second = run_stack("staging"), run_stack("staging")
    assert json.dumps(first.to_json(), sort_keys=True) == json.dumps(second.to_json(), sort_keys=True)
