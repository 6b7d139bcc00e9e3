"""`philosophy-infra render --stack NAME`: the service's release objects for a stack, written to `deploy/<stack>/`,
which the stack's Argo CD Application syncs. Committed, reviewed like code, and checked in CI (`--check`): the
directory must be exactly what the stack files render to.

Read offline, from the stack files only: the Kubernetes layer's `workloads` and `tracing`, and the worker node
group's labels and taints from the AWS layer's `nodeGroups`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from philosophy_infra.config.aws import AwsStackConfig
from philosophy_infra.config.base import KUBERNETES_NAMESPACE, ConfigIssue, StackConfigError
from philosophy_infra.config.kubernetes import KubernetesStackConfig
from philosophy_infra.layers import LAYERS, ROOT, LayerName
from philosophy_infra.project import read_stack_file
from philosophy_infra.release.objects import ReleaseInputs, release_objects

DEPLOY_DIR = "deploy"


def deploy_path(stack: str) -> str:
    """The Application's `source.path`: where the stack's release objects are, relative to the repository."""
    return f"{DEPLOY_DIR}/{stack}"


def release_inputs(config: KubernetesStackConfig, aws: AwsStackConfig, stack: str) -> ReleaseInputs:
    group = config.workloads.worker.node_group
    if group not in aws.node_groups:
        issue = ConfigIssue(
            "workloads.worker.nodeGroup",
            group,
            f"the AWS layer's stack has no such node group; it has: {', '.join(sorted(aws.node_groups))}",
            namespace=KUBERNETES_NAMESPACE,
        )
        raise StackConfigError(stack, [issue])
    node_group = aws.node_groups[group]
    return ReleaseInputs(
        workloads=config.workloads,
        trace_sample_ratio=config.tracing.sample_ratio,
        worker_node_selector=dict(node_group.labels),
        worker_tolerations=node_group.pod_tolerations(),
    )


def stack_release_inputs(root: Path, stack: str) -> ReleaseInputs:
    """The stack's release inputs, from both layers' stack files (no Pulumi runtime, no credentials)."""
    aws_file = read_stack_file(LAYERS[LayerName.AWS].directory(root), stack)
    kubernetes_file = read_stack_file(LAYERS[LayerName.KUBERNETES].directory(root), stack)
    aws = AwsStackConfig.from_raw(stack, aws_file.config)
    config = KubernetesStackConfig.from_raw(stack, kubernetes_file.config)
    return release_inputs(config, aws, stack)


def file_name(obj: dict[str, Any]) -> str:
    return f"{obj['kind'].lower()}.{obj['metadata']['name']}.yaml"


class _NoAliases(yaml.SafeDumper):
    """Every value written out where it is: an anchor (`&id001`) would show a release's new version in one
    place of the diff only."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def rendered_files(stack: str, objects: list[dict[str, Any]]) -> dict[str, str]:
    """One YAML file per object, with a header that says where it comes from."""
    header = (
        f"# Rendered by `philosophy-infra render --stack {stack}` from kubernetes/Pulumi.{stack}.yaml (and the AWS\n"
        f"# layer's nodeGroups). Argo CD syncs this directory. Do not edit: change the stack file and render.\n"
    )
    files = {}
    for obj in objects:
        name = file_name(obj)
        if name in files:
            raise ValueError(f"two release objects would be written to {name}")
        files[name] = header + yaml.dump(obj, Dumper=_NoAliases, sort_keys=False, default_flow_style=False, width=120)
    return files


@dataclass(frozen=True)
class Difference:
    missing: list[str]
    """Files render makes that the directory lacks."""
    changed: list[str]
    stale: list[str]
    """YAML files in the directory that render no longer makes (Argo CD would still apply them)."""

    def __bool__(self) -> bool:
        return bool(self.missing or self.changed or self.stale)

    def lines(self) -> list[str]:
        return (
            [f"missing: {n}" for n in self.missing]
            + [f"differs: {n}" for n in self.changed]
            + [f"not rendered: {n}" for n in self.stale]
        )


def compare(directory: Path, files: dict[str, str]) -> Difference:
    present = {p.name: p for p in directory.glob("*.yaml")} if directory.is_dir() else {}
    return Difference(
        missing=sorted(set(files) - set(present)),
        changed=sorted(n for n in files if n in present and present[n].read_text() != files[n]),
        stale=sorted(set(present) - set(files)),
    )


def write(directory: Path, files: dict[str, str]) -> list[Path]:
    """Replace the directory's YAML files with `files` (a file render no longer makes is removed)."""
    directory.mkdir(parents=True, exist_ok=True)
    for stale in compare(directory, files).stale:
        (directory / stale).unlink()
    written = []
    for name, text in sorted(files.items()):
        path = directory / name
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
        written.append(path)
    return written


def stack_release_objects(root: Path, stack: str) -> list[dict[str, Any]]:
    return release_objects(stack_release_inputs(root, stack))


def render_stack(root: Path, stack: str) -> dict[str, str]:
    return rendered_files(stack, stack_release_objects(root, stack))


def stale_render_warning(stack: str, objects: list[dict[str, Any]], root: Path = ROOT) -> str | None:
    """Why the committed deploy/<stack>/ is not what this deploy's config and AWS outputs render to, or None.

    Argo CD syncs the committed directory, whatever Pulumi's config says: a difference means the release objects
    lag (or lead) the stack file."""
    difference = compare(root / deploy_path(stack), rendered_files(stack, objects))
    if not difference:
        return None
    return (
        f"{deploy_path(stack)}/ is not what this stack's config renders to ({'; '.join(difference.lines())}): "
        f"Argo CD syncs the committed files. Run `philosophy-infra render --stack {stack}` and commit the result."
    )
