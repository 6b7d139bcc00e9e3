"""The Application's pin: the commit that last changed the stack's release objects, read from git, so Argo CD
starts a release only when the Kubernetes layer (after that release's migrations) moves it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from philosophy_infra.config.base import StackConfigError
from philosophy_infra.config.delivery import DeliveryConfig, RevisionPin
from philosophy_infra.config.placeholders import RunMode
from philosophy_infra.release.revision import application_revision, release_commit


def git(repo: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, env=env)
    return result.stdout.strip()


def commit(repo: Path, path: str, text: str) -> str:
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text(text)
    git(repo, "add", path)
    git(repo, "commit", "-q", "-m", path)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q", "-b", "main")
    return tmp_path


def test_the_pin_is_the_last_commit_that_changed_the_stacks_release_objects(repo: Path) -> None:
    assert release_commit(repo, "prod").commit is None
    release = commit(repo, "deploy/prod/rollout.philosophy-api.yaml", "a")
    commit(repo, "deploy/staging/rollout.philosophy-api.yaml", "b")
    commit(repo, "README.md", "unrelated")
    found = release_commit(repo, "prod")
    assert found.commit == release and not found.uncommitted
    (repo / "deploy/prod/rollout.philosophy-api.yaml").write_text("edited")
    assert release_commit(repo, "prod").uncommitted


def test_outside_git_or_in_a_shallow_clone_there_is_no_pin(
    repo: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    plain = tmp_path_factory.mktemp("plain")
    assert "not a git checkout" in (release_commit(plain, "prod").problem or "")
    commit(repo, "deploy/prod/a.yaml", "1")
    commit(repo, "other.txt", "2")
    shallow = tmp_path_factory.mktemp("shallow") / "clone"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{repo}", str(shallow)], check=True)
    found = release_commit(shallow, "prod")
    assert found.commit is None and "shallow" in (found.problem or "")


def test_a_real_deploy_without_the_commit_is_refused_a_plan_shows_the_branch(tmp_path: Path) -> None:
    delivery = DeliveryConfig()
    assert delivery.pin is RevisionPin.LAST_RELEASE
    with pytest.raises(StackConfigError, match=r"philosophy-kubernetes:delivery\.pin.*not a git checkout"):
        application_revision(delivery, "prod", tmp_path, RunMode.UPDATE)
    assert application_revision(delivery, "prod", tmp_path, RunMode.OFFLINE) == "main"


def test_pin_branch_follows_the_branch(repo: Path) -> None:
    release = commit(repo, "deploy/prod/a.yaml", "1")
    assert application_revision(DeliveryConfig(), "prod", repo, RunMode.UPDATE) == release
    assert application_revision(DeliveryConfig(pin=RevisionPin.BRANCH, branch="release"), "prod", repo) == "release"
