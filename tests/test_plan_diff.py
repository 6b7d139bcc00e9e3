"""`philosophy-infra diff`: what a change does to the offline plan, with loud flags on data loss."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from philosophy_infra.plan_diff import diff_plans, render_text
from tests.conftest import ROOT

DB = "urn:pulumi:prod::philosophy-infra::philosophy:index:Database$aws:rds/instance:Instance::database-instance"
VPC = "urn:pulumi:prod::philosophy-infra::philosophy:index:Network$aws:ec2/vpc:Vpc::network-vpc"


def resource(urn: str, type_: str, inputs: dict[str, Any], protect: bool = False) -> dict[str, Any]:
    return {"urn": urn, "type": type_, "inputs": inputs, "protect": protect, "retainOnDelete": False}


BASE: dict[str, Any] = {
    "schemaVersion": 1,
    "resources": [
        resource(
            DB,
            "aws:rds/instance:Instance",
            {
                "identifier": "philosophy-prod-postgres",
                "instanceClass": "db.r6g.xlarge",
                "tags": {"Name": "db"},
                "masterUserSecretKmsKeyId": "[secret]",
            },
            protect=True,
        ),
        resource(VPC, "aws:ec2/vpc:Vpc", {"cidrBlock": "10.0.0.0/16", "enableDnsHostnames": True}),
    ],
}


def test_an_unchanged_plan_has_no_diff() -> None:
    diff = diff_plans(BASE, copy.deepcopy(BASE), stack="prod", base_name="abc")
    assert diff.resources == [] and diff.alerts == []
    assert "No changes." in render_text(diff)


def test_a_changed_input_is_reported_with_its_path_and_values() -> None:
    head = copy.deepcopy(BASE)
    head["resources"][1]["inputs"]["enableDnsHostnames"] = False
    [changed] = diff_plans(BASE, head, stack="prod", base_name="abc").resources
    assert (changed.urn, changed.kind, changed.replaces, changed.alerts) == (VPC, "changed", False, [])
    assert [(c.path, c.old, c.new) for c in changed.changes] == [("enableDnsHostnames", True, False)]


def test_replacing_a_stateful_resource_is_loud() -> None:
    head = copy.deepcopy(BASE)
    head["resources"][0]["inputs"]["identifier"] = "philosophy-prod-db"
    diff = diff_plans(BASE, head, stack="prod", base_name="abc")
    [changed] = diff.resources
    assert changed.replaces
    assert [a for _, a in diff.alerts] == [
        "a stateful resource is replaced (deleted, then created) by: identifier",
        "a protected resource changes",
    ]
    text = render_text(diff, markdown=True)
    assert "(replace)" in text and "**Needs care:**" in text and "```diff" in text


def test_an_update_in_place_of_a_protected_resource_is_flagged_but_not_as_a_replacement() -> None:
    head = copy.deepcopy(BASE)
    head["resources"][0]["inputs"]["instanceClass"] = "db.r6g.2xlarge"
    diff = diff_plans(BASE, head, stack="prod", base_name="abc")
    assert not diff.resources[0].replaces
    assert [a for _, a in diff.alerts] == ["a protected resource changes"]


def test_deleting_a_stateful_resource_is_loud_and_adding_one_is_not() -> None:
    head = copy.deepcopy(BASE)
    removed = head["resources"].pop(0)
    diff = diff_plans(BASE, head, stack="prod", base_name="abc")
    assert [(r.kind, r.urn) for r in diff.resources] == [("removed", DB)]
    assert len(diff.alerts) == 2
    back = diff_plans(head, {**head, "resources": [*head["resources"], removed]}, stack="prod", base_name="abc")
    assert [(r.kind, r.alerts) for r in back.resources] == [("added", [])]


def test_option_changes_and_secrets_stay_masked() -> None:
    head = copy.deepcopy(BASE)
    head["resources"][1]["protect"] = True
    head["resources"][0]["inputs"]["masterUserSecretKmsKeyId"] = "[secret]"
    diff = diff_plans(BASE, head, stack="prod", base_name="abc")
    [changed] = diff.resources
    assert [(c.path, c.old, c.new) for c in changed.changes] == [("<protect>", False, True)]
    document = json.dumps(diff.to_json())
    assert json.loads(document)["counts"] == {"added": 0, "removed": 0, "changed": 1}


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone of this repository at HEAD: the diff compares its working tree with its HEAD."""
    directory = tmp_path_factory.mktemp("repo") / "checkout"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(directory)], check=True)
    subprocess.run(["git", "-C", str(directory), "config", "user.email", "ci@example.invalid"], check=True)
    subprocess.run(["git", "-C", str(directory), "config", "user.name", "ci"], check=True)
    return directory


def _diff(clone: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "philosophy_infra",
            "diff",
            "--stack",
            "staging",
            "--base",
            "HEAD",
            "--project-dir",
            str(clone),
            *args,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_diff_against_the_previous_commit_reports_exactly_what_changed(clone: Path) -> None:
    stack_file = clone / "Pulumi.staging.yaml"
    stack = yaml.safe_load(stack_file.read_text())
    stack["config"]["philosophy-infra:database"]["instanceClass"] = "db.t4g.large"
    stack["config"]["philosophy-infra:database"]["masterUsername"] = "philosophy_owner"
    stack_file.write_text(yaml.safe_dump(stack))
    result = _diff(clone, "--json", "-")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["counts"] == {"added": 0, "removed": 0, "changed": 2}
    changed, suffix = document["resources"]
    assert changed["type"] == "aws:rds/instance:Instance" and changed["replaces"] is True
    # The final snapshot's name follows the replacement triggers, so a second delete cannot collide.
    assert suffix["type"] == "random:index/randomId:RandomId"
    assert [(c["path"], c["new"]) for c in suffix["changes"]] == [("keepers.username", "philosophy_owner")]
    assert {(c["path"], c["old"], c["new"]) for c in changed["changes"]} == {
        ("instanceClass", "db.t4g.medium", "db.t4g.large"),
        ("username", "philosophy_admin", "philosophy_owner"),
    }
    assert document["alerts"] == [
        {
            "urn": changed["urn"],
            "type": changed["type"],
            "alert": "a stateful resource is replaced (deleted, then created) by: username",
        }
    ]
    assert "NEEDS CARE" in result.stderr


def test_the_diff_of_a_bad_revision_exits_1_with_one_line(clone: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "philosophy_infra",
            "diff",
            "--stack",
            "staging",
            "--base",
            "no-such-rev",
            "--project-dir",
            str(clone),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1 and "no revision 'no-such-rev'" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_release_moves_the_applications_pin_to_its_commit(tmp_path: Path) -> None:
    """A change of the image tag, rendered and committed, changes two things in the Kubernetes layer's plan: the
    schema Job (this release's migrations, a new Job), and the Application's targetRevision, from the previous
    release's commit to this one, which Pulumi moves after the Job (test_ownership)."""
    checkout = tmp_path / "checkout"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(checkout)], check=True)
    git = ["git", "-C", str(checkout), "-c", "user.email=ci@example.invalid", "-c", "user.name=ci"]
    previous = subprocess.run(
        [*git, "log", "-1", "--format=%H", "--", "deploy/staging"], capture_output=True, text=True, check=True
    ).stdout.strip()
    stack_file = checkout / "kubernetes" / "Pulumi.staging.yaml"
    stack_file.write_text(stack_file.read_text().replace('imageTag: "1.0.0"', 'imageTag: "1.0.1"'))
    render = [sys.executable, "-m", "philosophy_infra", "render", "--stack", "staging", "--project-dir", str(checkout)]
    subprocess.run(render, cwd=ROOT, check=True, capture_output=True)
    subprocess.run([*git, "commit", "--quiet", "-am", "release 1.0.1"], check=True)
    release = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    result = subprocess.run(
        [sys.executable, "-m", "philosophy_infra", "diff", "--stack", "staging", "--layer", "kubernetes",
         "--base", "HEAD~1", "--project-dir", str(checkout), "--json", "-"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    changes = {r["type"]: r["changes"] for r in json.loads(result.stdout)["resources"]}
    assert set(changes) == {"kubernetes:batch/v1:Job", "kubernetes:argoproj.io/v1alpha1:Application"}
    job = {c["path"]: c["new"] for c in changes["kubernetes:batch/v1:Job"]}
    assert job["spec.template.spec.containers[0].image"].endswith("/api:1.0.1")
    assert [(c["path"], c["old"], c["new"]) for c in changes["kubernetes:argoproj.io/v1alpha1:Application"]] == [
        ("spec.source.targetRevision", previous, release)
    ]
