"""The GitHub Actions workflows (.github/workflows): pinned actions, least privilege, the right Pulumi commands
and inputs, and the deploy runner (where the Kubernetes layer runs) kept to the workflows its webhook accepts,
on main or on pull requests from this repository only. Then the linters themselves (scripts/lint-workflows.sh)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import stack_plan

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"

# The workflows whose jobs may run on the deploy runner: exactly the names the AWS layer's
# `deployRunner.workflowNames` must list (the CodeBuild webhook's WORKFLOW_NAME filter).
RUNNER_WORKFLOWS = {"deploy", "drift", "preview"}
# The DR stack's runner takes only the DR workflow's jobs (prod rebuilt in the DR region, started by hand).
RUNNER_WORKFLOWS_OF = {"staging": RUNNER_WORKFLOWS, "prod": RUNNER_WORKFLOWS, "dr": {"dr"}}
STACKS = ("staging", "prod", "dr")
# The stacks that run all the time, which preview and drift read; the DR stack exists only once it is needed.
LIVE_STACKS = ("staging", "prod")
RUNNER_LABEL = re.compile(
    r"codebuild-philosophy-(?P<env>staging|prod|dr|\$\{\{ matrix\.env \}\})-deploy-runner"
    r"-\$\{\{ github\.run_id \}\}-\$\{\{ github\.run_attempt \}\}"
)
SAME_REPOSITORY = "github.event.pull_request.head.repo.full_name == github.repository"
ON_MAIN = "github.ref == 'refs/heads/main'"
BACKEND = "${{ vars.PULUMI_BACKEND_URL }}"
# The DR workflow reads the state from the state bucket's replica in the DR region: it runs while the home is down.
DR_BACKEND = "${{ vars.PULUMI_DR_BACKEND_URL }}"


def declared(names: str) -> frozenset[str]:
    return frozenset(names.split())


# Every pinned action, with the commit its version tag pointed to when it was pinned (read from the action's
# repository: `git rev-parse <tag>^{commit}`) and the inputs its action.yml declares at that commit. actionlint
# cannot check the inputs of an action pinned by SHA, so this table does. A pin changes together with its row.
PINS: dict[str, tuple[str, str, frozenset[str]]] = {
    "actions/checkout": (
        "3d3c42e5aac5ba805825da76410c181273ba90b1",
        "v7.0.1",
        declared(
            "allow-unsafe-pr-checkout clean fetch-depth fetch-tags filter github-server-url lfs path "
            "persist-credentials ref repository set-safe-directory show-progress sparse-checkout "
            "sparse-checkout-cone-mode ssh-key ssh-known-hosts ssh-strict ssh-user submodules token"
        ),
    ),
    "actions/setup-python": (
        "5fda3b95a4ea91299a34e894583c3862153e4b97",
        "v7.0.0",
        declared(
            "allow-prereleases architecture cache cache-dependency-path check-latest freethreaded pip-version "
            "python-version python-version-file token update-environment"
        ),
    ),
    "aws-actions/configure-aws-credentials": (
        "e6de054238d6b7531b4efff3b6587d9aade6a06c",
        "v6.2.3",
        declared(
            "action-timeout-s allowed-account-ids audience aws-access-key-id aws-profile aws-region "
            "aws-secret-access-key aws-session-token custom-tags disable-retry force-skip-oidc http-proxy "
            "inline-session-policy managed-session-policies mask-aws-account-id no-proxy output-credentials "
            "output-env-credentials overwrite-aws-profile retry-max-attempts role-chaining "
            "role-duration-seconds role-external-id role-session-name role-skip-session-tagging role-to-assume "
            "special-characters-workaround sts-endpoint transitive-tag-keys unset-current-credentials "
            "use-existing-credentials web-identity-token-file"
        ),
    ),
    "pulumi/actions": (
        "8e5e406f4007fca908480587cb9893c07090f58d",
        "v7.0.0",
        declared(
            "always-include-summary cloud-url color command comment-on-pr comment-on-pr-number "
            "comment-on-summary config-map continue-on-error debug diff edit-pr-comment exclude "
            "exclude-dependents exclude-protected expect-no-changes github-token log-flow log-verbosity "
            "message parallel plan policyPackConfigs policyPacks pulumi-version pulumi-version-file refresh "
            "remove replace secrets-provider stack-name suppress-outputs suppress-progress target "
            "target-dependents upsert work-dir"
        ),
    ),
    "actions/github-script": (
        "ed597411d8f924073f98dfc5c65a23a2325f34cd",
        "v8.0.0",
        declared(
            "base-url debug github-token previews result-encoding retries retry-exempt-status-codes script user-agent"
        ),
    ),
}
AWS_CREDENTIALS = "aws-actions/configure-aws-credentials"
PULUMI = "pulumi/actions"


def load(path: Path) -> dict[str, Any]:
    raw: dict[Any, Any] = yaml.safe_load(path.read_text())
    # YAML 1.1 (PyYAML) reads the key `on` as True.
    return {("on" if key is True else str(key)): value for key, value in raw.items()}


FILES = sorted(WORKFLOWS.glob("*.y*ml"))
WORKFLOW = {load(path)["name"]: load(path) for path in FILES}


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    on = workflow["on"]
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    assert isinstance(on, dict)
    return on


def jobs() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name, workflow in WORKFLOW.items():
        for job_id, job in workflow["jobs"].items():
            yield name, job_id, job


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = job.get("steps", [])
    return found


def action(step: dict[str, Any]) -> str:
    return str(step.get("uses", "")).partition("@")[0]


def uses(job: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [step for step in steps(job) if action(step) == name]


def on_runner(job: dict[str, Any]) -> bool:
    return "codebuild-" in str(job.get("runs-on", ""))


def pulumi_steps() -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    for name, job_id, job in jobs():
        for step in uses(job, PULUMI):
            yield name, job_id, job, step.get("with", {})


def pulumi_pin() -> str:
    match = re.search(r"^pulumi==(\S+)", (ROOT / "requirements-dev.txt").read_text(), re.MULTILINE)
    assert match, "requirements-dev.txt pins pulumi"
    return match.group(1)


def test_the_five_workflows_exist() -> None:
    assert set(WORKFLOW) == {"test", "preview", "deploy", "drift", "dr"}
    assert len(FILES) == len(WORKFLOW), "two workflow files share a name"


# --- pinned actions -------------------------------------------------------------------------------------------


def test_every_action_is_pinned_to_a_commit_with_its_version_in_a_comment() -> None:
    pattern = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<rest>.*)$")
    for path in FILES:
        lines = [line for line in path.read_text().splitlines() if pattern.match(line)]
        count = sum(1 for job in load(path)["jobs"].values() for step in steps(job) if "uses" in step)
        assert len(lines) == count, f"{path.name}: every `uses:` is on a line of its own"
        for line in lines:
            match = pattern.match(line)
            assert match
            ref, rest = match["ref"], match["rest"]
            assert re.fullmatch(r"[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}", ref), f"{path.name}: {ref} not a SHA"
            assert re.fullmatch(r"\s+# v\d+\.\d+\.\d+", rest), f"{path.name}: {ref} needs `# vX.Y.Z` after it"


def test_every_pin_is_the_audited_commit_of_its_version() -> None:
    for name, job_id, job in jobs():
        for step in steps(job):
            if "uses" not in step:
                continue
            repository, _, sha = step["uses"].partition("@")
            assert repository in PINS, f"{name}/{job_id}: {repository} is not in PINS"
            assert sha == PINS[repository][0], f"{name}/{job_id}: {repository}@{sha} is not the audited pin"
    for path in FILES:
        for repository, (sha, version, _) in PINS.items():
            for line in path.read_text().splitlines():
                if f"{repository}@{sha}" in line:
                    assert line.rstrip().endswith(f"# {version}"), f"{path.name}: {line.strip()}"


def test_every_input_given_to_an_action_is_one_it_declares() -> None:
    for name, job_id, job in jobs():
        for step in steps(job):
            if "uses" in step:
                unknown = set(step.get("with", {})) - PINS[action(step)][2]
                assert not unknown, f"{name}/{job_id}: {action(step)} has no input {sorted(unknown)}"


def test_checkout_never_leaves_the_token_in_the_git_config() -> None:
    for name, job_id, job in jobs():
        for step in uses(job, "actions/checkout"):
            assert step["with"]["persist-credentials"] is False, f"{name}/{job_id}"


# --- permissions ----------------------------------------------------------------------------------------------


def test_every_workflow_grants_nothing_by_default_and_every_job_declares_its_permissions() -> None:
    for name, workflow in WORKFLOW.items():
        assert workflow["permissions"] == {}, name
    for name, job_id, job in jobs():
        assert isinstance(job.get("permissions"), dict), f"{name}/{job_id} has no explicit permissions mapping"
        assert set(job["permissions"].values()) <= {"read", "write"}, f"{name}/{job_id}"


def writes(job: dict[str, Any]) -> set[str]:
    return {scope for scope, level in job["permissions"].items() if level == "write"}


def test_id_token_is_granted_exactly_where_aws_credentials_are_assumed() -> None:
    for name, job_id, job in jobs():
        assumes = bool(uses(job, AWS_CREDENTIALS))
        assert ("id-token" in writes(job)) == assumes, f"{name}/{job_id}"
        for step in uses(job, AWS_CREDENTIALS):
            # A role from a GitHub variable, never an account ID in the repository; never static keys.
            role = step["with"]["role-to-assume"]
            assert re.fullmatch(
                r"\$\{\{ vars\.AWS_(PREVIEW|DEPLOY|DRIFT|KUBERNETES_DEPLOY)_ROLE_ARN \}\}"
                r"|\$\{\{ matrix\.env == 'prod' && vars\.AWS_KUBERNETES_(DRIFT|PREVIEW)_ROLE_ARN_PROD"
                r" \|\| vars\.AWS_KUBERNETES_(DRIFT|PREVIEW)_ROLE_ARN_STAGING \}\}",
                role,
            ), role
            assert not {"aws-access-key-id", "aws-secret-access-key"} & set(step["with"])


def test_no_account_id_is_written_into_a_workflow() -> None:
    for path in FILES:
        assert not re.search(r"(?<![0-9a-f])\d{12}(?![0-9a-f])", path.read_text()), path.name


def test_write_scopes_are_only_where_they_are_used() -> None:
    for name, job_id, job in jobs():
        extra = writes(job) - {"id-token"}
        comments = any(s["with"].get("comment-on-pr") is True for s in uses(job, PULUMI))
        allowed = set()
        if comments or (name, job_id) == ("test", "diff-comment"):
            allowed.add("pull-requests")
        if (name, job_id) == ("drift", "report"):
            allowed.add("issues")
        assert extra <= allowed, f"{name}/{job_id} writes {sorted(extra - allowed)}"
    assert writes(WORKFLOW["drift"]["jobs"]["report"]) == {"issues"}
    assert writes(WORKFLOW["test"]["jobs"]["diff-comment"]) == {"pull-requests"}


def test_the_test_workflow_has_no_cloud_credentials_and_never_runs_the_change_with_a_write_token() -> None:
    workflow = WORKFLOW["test"]
    assert {"push", "pull_request"} <= set(triggers(workflow))
    for job_id, job in workflow["jobs"].items():
        assert not uses(job, AWS_CREDENTIALS) and not uses(job, PULUMI), job_id
        assert "id-token" not in job["permissions"], job_id
        if writes(job):
            # The job that comments checks nothing out and runs nothing of the change.
            assert [action(s) for s in steps(job)] == ["actions/github-script"], job_id
    comment = workflow["jobs"]["diff-comment"]
    assert SAME_REPOSITORY in comment["if"]


def test_the_test_workflow_runs_the_readme_command_the_plans_and_the_policy_tests() -> None:
    scripts = "\n".join(str(s.get("run", "")) for s in steps(WORKFLOW["test"]["jobs"]["test"]))
    assert "./scripts/setup.sh --with-checkov && .venv/bin/pytest" in scripts
    assert "for stack in staging prod" in scripts
    assert '.venv/bin/philosophy-infra plan --stack "$stack" --json /dev/null --quiet' in scripts
    assert '.venv/bin/philosophy-infra plan --stack "$stack" --policy' in scripts
    assert ".venv/bin/pytest tests/test_policy.py" in scripts
    assert "bash scripts/lint-workflows.sh" in scripts
    diff = "\n".join(str(s.get("run", "")) for s in steps(WORKFLOW["test"]["jobs"]["diff"]))
    assert '.venv/bin/philosophy-infra diff --stack "$stack" --base "$base" --markdown' in diff
    assert "GITHUB_STEP_SUMMARY" in diff


# --- Pulumi ---------------------------------------------------------------------------------------------------


def test_every_pulumi_step_uses_the_pinned_cli_and_the_s3_backend_and_never_writes_state_in_a_refresh() -> None:
    for name, job_id, _, inputs in pulumi_steps():
        version = inputs["pulumi-version"]
        if version == "${{ env.PULUMI_VERSION }}":
            version = WORKFLOW[name]["env"]["PULUMI_VERSION"]
        assert version == pulumi_pin(), f"{name}/{job_id}"
        assert inputs["cloud-url"] == (DR_BACKEND if name == "dr" else BACKEND), f"{name}/{job_id}"
        assert (inputs["stack-name"] == "dr") is (name == "dr"), f"{name}/{job_id}"
        assert inputs["command"] in {"preview", "up"}, f"{name}/{job_id}: {inputs['command']}"
        assert inputs["work-dir"] in {".", "kubernetes"}, f"{name}/{job_id}"
        assert inputs["stack-name"] in {*STACKS, "${{ matrix.env }}"}, f"{name}/{job_id}"


def policy_pack(inputs: dict[str, Any]) -> Path:
    return (ROOT / inputs["work-dir"] / inputs["policyPacks"]).resolve()


def test_preview_refreshes_diffs_runs_the_policy_pack_and_keeps_one_comment_per_stack() -> None:
    found = set()
    for name, _, job, inputs in pulumi_steps():
        if name != "preview":
            continue
        assert inputs["command"] == "preview"
        assert inputs["refresh"] is True and inputs["diff"] is True
        assert policy_pack(inputs) == ROOT / "policy"
        assert inputs["comment-on-pr"] is True and inputs["edit-pr-comment"] is True
        assert "expect-no-changes" not in inputs
        found |= {(inputs["work-dir"], env) for env in job["strategy"]["matrix"]["env"]}
    # Both layers of both stacks; the Kubernetes layer on the runner (checked below), as a reader only.
    assert found == {(d, env) for d in (".", "kubernetes") for env in LIVE_STACKS}


def test_deploy_updates_each_layer_in_order_with_the_policy_pack_enforced() -> None:
    deploy = WORKFLOW["deploy"]
    assert set(triggers(deploy)) == {"push", "workflow_dispatch"}
    assert triggers(deploy)["push"] == {"branches": ["main"]}
    order = ["aws-staging", "kubernetes-staging", "aws-prod", "kubernetes-prod"]
    assert list(deploy["jobs"]) == order
    for previous, job_id in zip([None, *order], order, strict=False):
        job = deploy["jobs"][job_id]
        layer, env = job_id.split("-")
        assert job.get("needs") == previous, job_id
        assert job["environment"] == env, job_id
        assert job["concurrency"] == {"group": f"pulumi-{layer}-{env}", "cancel-in-progress": False}, job_id
        [pulumi] = uses(job, PULUMI)
        inputs = pulumi["with"]
        assert inputs["command"] == "up" and inputs["stack-name"] == env
        assert inputs["work-dir"] == {"aws": ".", "kubernetes": "kubernetes"}[layer]
        assert policy_pack(inputs) == ROOT / "policy"
        [credentials] = uses(job, AWS_CREDENTIALS)
        role = {"aws": "AWS_DEPLOY_ROLE_ARN", "kubernetes": "AWS_KUBERNETES_DEPLOY_ROLE_ARN"}[layer]
        # An environment variable: the role of that environment, which trusts only that environment.
        assert credentials["with"]["role-to-assume"] == f"${{{{ vars.{role} }}}}"


def test_the_dr_workflow_rebuilds_prod_in_the_dr_region_by_hand_only() -> None:
    """Started by a person (a region loss, a game day), never by a push; the state from the replica; each layer
    in order, as the `dr` environment's roles, the Kubernetes layer on the DR stack's own runner."""
    dr = WORKFLOW["dr"]
    assert set(triggers(dr)) == {"workflow_dispatch"}
    assert list(dr["jobs"]) == ["aws-dr", "kubernetes-dr"]
    assert dr["jobs"]["kubernetes-dr"]["needs"] == "aws-dr"
    for job_id, job in dr["jobs"].items():
        layer = job_id.split("-")[0]
        assert job["environment"] == "dr" and ON_MAIN in job["if"], job_id
        [pulumi] = uses(job, PULUMI)
        inputs = pulumi["with"]
        assert (inputs["command"], inputs["stack-name"], inputs["cloud-url"]) == ("up", "dr", DR_BACKEND)
        assert inputs["policyPackConfigs"].endswith("policy/config/dr.json")
        [credentials] = uses(job, AWS_CREDENTIALS)
        assert credentials["with"]["aws-region"] == "eu-central-1", job_id
        assert on_runner(job) is (layer == "kubernetes"), job_id


def test_drift_previews_with_refresh_and_expects_no_changes_daily_and_on_demand() -> None:
    drift = WORKFLOW["drift"]
    assert set(triggers(drift)) == {"schedule", "workflow_dispatch"}
    assert len(triggers(drift)["schedule"]) == 1
    found = set()
    for name, _, job, inputs in pulumi_steps():
        if name != "drift":
            continue
        assert inputs["command"] == "preview"
        assert inputs["refresh"] is True and inputs["expect-no-changes"] is True
        assert "comment-on-pr" not in inputs
        found |= {(inputs["work-dir"], env) for env in job["strategy"]["matrix"]["env"]}
    assert found == {(d, env) for d in (".", "kubernetes") for env in LIVE_STACKS}
    report = drift["jobs"]["report"]
    assert set(report["needs"]) == {"aws", "kubernetes"} and "!cancelled()" in report["if"]
    script = report["steps"][0]["with"]["script"]
    # It finds each leg by its job name: keep them in step.
    for layer in ("aws", "kubernetes"):
        assert drift["jobs"][layer]["name"] == f"drift {layer} ${{{{ matrix.env }}}}"
    assert "`drift ${layer} ${env}`" in script and "issues.create(" in script


def test_preview_roles_are_read_only_and_deploy_roles_are_per_environment() -> None:
    for name, job_id, job in jobs():
        for step in uses(job, AWS_CREDENTIALS):
            role = step["with"]["role-to-assume"]
            if name in ("deploy", "dr"):
                assert role in ("${{ vars.AWS_DEPLOY_ROLE_ARN }}", "${{ vars.AWS_KUBERNETES_DEPLOY_ROLE_ARN }}")
                assert job.get("environment"), job_id
            elif name == "drift" and on_runner(job):
                assert "AWS_KUBERNETES_DRIFT_ROLE_ARN" in role and "environment" not in job, f"{name}/{job_id}"
            elif name == "drift":
                # Its own read-only role: scheduled runs have the subject of main, the preview role's is
                # pull_request, and each role trusts exactly one.
                assert role == "${{ vars.AWS_DRIFT_ROLE_ARN }}" and "environment" not in job, f"{name}/{job_id}"
            elif on_runner(job):
                # The stack's Kubernetes preview role: in the cluster, a reader (philosophy:cluster-readers).
                assert role == (
                    "${{ matrix.env == 'prod' && vars.AWS_KUBERNETES_PREVIEW_ROLE_ARN_PROD"
                    " || vars.AWS_KUBERNETES_PREVIEW_ROLE_ARN_STAGING }}"
                ), f"{name}/{job_id}"
                assert "environment" not in job, f"{name}/{job_id}"
            else:
                assert role == "${{ vars.AWS_PREVIEW_ROLE_ARN }}" and "environment" not in job, f"{name}/{job_id}"


# --- the deploy runner ----------------------------------------------------------------------------------------


def test_the_kubernetes_layer_runs_only_on_the_deploy_runner_and_the_aws_layer_never_does() -> None:
    for name, job_id, job, inputs in pulumi_steps():
        kubernetes = inputs["work-dir"] == "kubernetes"
        assert on_runner(job) == kubernetes, f"{name}/{job_id}"
    for name, job_id, job in jobs():
        if on_runner(job):
            assert RUNNER_LABEL.fullmatch(job["runs-on"]), f"{name}/{job_id}: {job['runs-on']}"
            assert "matrix" not in job.get("strategy", {}) or set(job["strategy"]["matrix"]) == {"env"}
            # The runner holds no credentials: every job on it assumes a Kubernetes-layer role through OIDC.
            [credentials] = uses(job, AWS_CREDENTIALS)
            assert "KUBERNETES" in credentials["with"]["role-to-assume"], f"{name}/{job_id}"
            assert job["permissions"].get("id-token") == "write", f"{name}/{job_id}"


def test_only_the_workflows_the_webhook_accepts_use_the_runner() -> None:
    used = {name for name, _, job in jobs() if on_runner(job)}
    assert used == set().union(*RUNNER_WORKFLOWS_OF.values())


def test_no_job_runs_on_the_runner_for_a_fork_or_off_main() -> None:
    for name, workflow in WORKFLOW.items():
        assert not {"pull_request_target", "workflow_run"} & set(triggers(workflow)), name
    for name, job_id, job in jobs():
        if not on_runner(job):
            continue
        condition = job.get("if", "")
        assert "||" not in condition, f"{name}/{job_id}: an `or` could bypass the guard"
        events = set(triggers(WORKFLOW[name]))
        if "pull_request" in events:
            assert events == {"pull_request"}, name
            assert SAME_REPOSITORY in condition, f"{name}/{job_id} must skip pull requests from forks"
        else:
            assert ON_MAIN in condition, f"{name}/{job_id} must run on main only"
            push = triggers(WORKFLOW[name]).get("push")
            assert push is None or push == {"branches": ["main"]}, name


def test_aws_jobs_skip_forks_too() -> None:
    # A fork gets no OIDC token anyway; the job should not even start.
    for job_id, job in WORKFLOW["preview"]["jobs"].items():
        assert SAME_REPOSITORY in job["if"], job_id


@pytest.mark.parametrize("stack", STACKS)
def test_the_runner_label_is_the_aws_layers_deploy_runner_output(request: pytest.FixtureRequest, stack: str) -> None:
    runs_on = stack_plan(request, stack).outputs["deployRunnerRunsOn"]
    for name, job_id, job in jobs():
        if on_runner(job):
            label = job["runs-on"].replace("${{ matrix.env }}", stack)
            if f"-{stack}-" in label:
                assert label == runs_on, f"{name}/{job_id}"


@pytest.mark.parametrize("stack", STACKS)
def test_the_runner_webhook_accepts_exactly_the_runner_workflows(request: pytest.FixtureRequest, stack: str) -> None:
    webhook = stack_plan(request, stack).one("aws:codebuild/webhook:Webhook").inputs
    [pattern] = [
        f["pattern"] for group in webhook["filterGroups"] for f in group["filters"] if f["type"] == "WORKFLOW_NAME"
    ]
    for name in WORKFLOW:
        assert bool(re.fullmatch(pattern, name)) == (name in RUNNER_WORKFLOWS_OF[stack]), f"{name} against {pattern}"


# --- the linters ----------------------------------------------------------------------------------------------


def test_the_workflows_pass_actionlint_and_zizmor() -> None:
    missing = [tool for tool in ("actionlint", "zizmor") if not (ROOT / ".venv" / "bin" / tool).exists()]
    if missing and os.environ.get("CI") != "true":
        pytest.skip(f"{', '.join(missing)} not in .venv: run ./scripts/setup.sh (the dev lock installs them)")
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "lint-workflows.sh")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    if shutil.which("shellcheck") is None:
        assert "shellcheck is not installed" in result.stderr
