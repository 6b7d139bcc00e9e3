"""Reading the Pulumi project and stack files the way the Pulumi CLI hands them to a program."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from philosophy_infra.plan import SECRET


class UnknownStackError(Exception):
    """There is no `Pulumi.<stack>.yaml` for the requested stack."""


@dataclass(frozen=True)
class StackFile:
    project: str
    stack: str
    project_dir: Path
    config: dict[str, str]  # full key -> value as Pulumi passes it (JSON text for objects)
    secret_keys: list[str]

    @property
    def region(self) -> str | None:
        return self.config.get("aws:region")


def find_project_dir(start: Path | None = None) -> Path:
    """The nearest directory holding Pulumi.yaml, from `start` (default: cwd) upwards, else this checkout."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "Pulumi.yaml").is_file():
            return candidate
    return Path(__file__).resolve().parent.parent


def project_name(project_dir: Path) -> str:
    data = yaml.safe_load((project_dir / "Pulumi.yaml").read_text()) or {}
    return str(data["name"])


def available_stacks(project_dir: Path) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))


def read_stack_file(project_dir: Path, stack: str) -> StackFile:
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = ", ".join(available_stacks(project_dir)) or "none"
        raise UnknownStackError(f"unknown stack '{stack}': no {path.name} in {project_dir} (stacks: {known})")
    project = project_name(project_dir)
    data = yaml.safe_load(path.read_text()) or {}
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    values = {**project_defaults(project_dir, project), **(data.get("config") or {})}
    for key, value in values.items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            # Encrypted with the stack's secrets provider: the offline plan cannot (and must not) decrypt it.
            config[key] = SECRET
            secret_keys.append(key)
        else:
            config[key] = _as_config_text(value)
    return StackFile(project, stack, project_dir, config, secret_keys)


def project_defaults(project_dir: Path, project: str) -> dict[str, Any]:
    """Values the CLI takes from Pulumi.yaml's `config` block when a stack does not set them."""
    data = yaml.safe_load((project_dir / "Pulumi.yaml").read_text()) or {}
    defaults: dict[str, Any] = {}
    for key, decl in (data.get("config") or {}).items():
        full_key = key if ":" in key else f"{project}:{key}"
        if isinstance(decl, dict) and "default" in decl:
            defaults[full_key] = decl["default"]
        elif isinstance(decl, dict) and "value" in decl:
            defaults[full_key] = decl["value"]
        elif not isinstance(decl, dict):
            defaults[full_key] = decl
    return defaults


def _as_config_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)
