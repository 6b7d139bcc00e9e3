"""Reading the Pulumi project and stack files the way the Pulumi CLI hands them to a program.

The files are untrusted input: every way they can be malformed ends in a `StackFileError` (or, for a bad stack
name, an `InvalidStackNameError`) naming the file and, where YAML knows it, the line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode
from yaml.reader import ReaderError

from philosophy_infra.plan import SECRET

# Pulumi's rule for stack and project names (sdk/go/common/tokens/stack_name.go, project.go).
_NAME_CHARS = re.compile(r"[A-Za-z0-9_.-]*")
_NAME_MAX = 100
_NAME_RULE = "1-100 characters, only letters, digits, '_', '.' and '-'"

# Limits no real config comes near; they stop alias bombs and nesting that would exhaust the stack.
_MAX_DEPTH = 64
_MAX_VALUES = 100_000


class UnknownStackError(Exception):
    """There is no `Pulumi.<stack>.yaml` for the requested stack."""


class InvalidStackNameError(UnknownStackError):
    """The requested stack name breaks Pulumi's rule, so it cannot name a stack file."""


class StackFileError(Exception):
    """`Pulumi.yaml` or `Pulumi.<stack>.yaml` is unreadable, not YAML, or not shaped like a Pulumi file."""

    def __init__(self, path: Path, problem: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(path, problem, line, column)
        self.path = path
        self.problem = problem
        self.line = line  # 1-based, like an editor
        self.column = column

    def __str__(self) -> str:
        where = ""
        if self.line is not None:
            where = f" line {self.line}" + (f", column {self.column}" if self.column is not None else "")
        return f"{self.path}{where}: {self.problem}"


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


def _stack_name_problem(name: str) -> str | None:
    """Why `name` is not a valid Pulumi stack name, or None when it is."""
    if not name:
        return "it is empty"
    if len(name) > _NAME_MAX:
        return f"it has {len(name)} characters"
    end = _NAME_CHARS.match(name)
    bad = end.end() if end else 0
    if bad != len(name):
        return f"invalid character {name[bad]!r} at position {bad}"
    return None


def project_name(project_dir: Path) -> str:
    return _read_project(project_dir)[0]


def available_stacks(project_dir: Path) -> list[str]:
    names = (p.name[len("Pulumi.") : -len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))
    return sorted(name for name in names if _stack_name_problem(name) is None)


def check_stack_name(stack: str) -> None:
    """Raise InvalidStackNameError unless `stack` is a valid Pulumi stack name."""
    problem = _stack_name_problem(stack)
    if problem is not None:
        raise InvalidStackNameError(
            f"invalid stack name {_shown(stack)}: {problem} (a Pulumi stack name is {_NAME_RULE})"
        )


def read_stack_file(project_dir: Path, stack: str) -> StackFile:
    # Before any path is built: a name like `../x` or `a/b` must never reach the filesystem.
    check_stack_name(stack)
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = ", ".join(available_stacks(project_dir)) or "none"
        raise UnknownStackError(f"unknown stack '{stack}': no {path.name} in {project_dir} (stacks: {known})")
    project, project_data, project_root = _read_project(project_dir)
    data, root = _load_yaml(path)
    if data is None:  # an empty stack file is a stack without config
        data = {}
    if not isinstance(data, dict):
        raise StackFileError(path, f"the top level must be a mapping, found {_kind(data)}", *_line_of(root))
    stack_config = _config_block(path, data, root)
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    values = {**_defaults(project_dir / "Pulumi.yaml", project, project_data, project_root), **stack_config}
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
    path = project_dir / "Pulumi.yaml"
    data, root = _load_yaml(path)
    _require_project_name(path, data, root)
    return _defaults(path, project, data, root)


def _defaults(path: Path, project: str, data: dict[str, Any], root: Node | None) -> dict[str, Any]:
    defaults: dict[str, Any] = {}
    for key, decl in _config_block(path, data, root).items():
        full_key = key if ":" in key else f"{project}:{key}"
        if isinstance(decl, dict) and "default" in decl:
            defaults[full_key] = decl["default"]
        elif isinstance(decl, dict) and "value" in decl:
            defaults[full_key] = decl["value"]
        elif not isinstance(decl, dict):
            defaults[full_key] = decl
    return defaults


def _read_project(project_dir: Path) -> tuple[str, dict[str, Any], Node | None]:
    path = project_dir / "Pulumi.yaml"
    data, root = _load_yaml(path)
    return _require_project_name(path, data, root), data, root


def _require_project_name(path: Path, data: Any, root: Node | None) -> str:
    if not isinstance(data, dict):
        raise StackFileError(
            path, f"the top level must be a mapping with a `name`, found {_kind(data)}", *_line_of(root)
        )
    if "name" not in data:
        raise StackFileError(path, "has no `name` (the project's name)", *_line_of(root))
    name = data["name"]
    if not isinstance(name, str):
        raise StackFileError(
            path, f"`name` must be a string, found {_kind(name)}", *_line_of(_value_node(root, "name"))
        )
    problem = _stack_name_problem(name)
    if problem is not None:
        raise StackFileError(
            path,
            f"`name` {_shown(name)} is not a valid Pulumi project name ({_NAME_RULE})",
            *_line_of(_value_node(root, "name")),
        )
    return name


def _config_block(path: Path, data: dict[str, Any], root: Node | None) -> dict[str, Any]:
    config = data.get("config")
    if config is None:  # absent, or `config:` with nothing under it
        return {}
    node = _value_node(root, "config")
    if not isinstance(config, dict):
        raise StackFileError(
            path, f"`config` must be a mapping of keys to values, found {_kind(config)}", *_line_of(node)
        )
    for key in config:
        if not isinstance(key, str):
            raise StackFileError(
                path, f"config key {_shown(key)} must be a string, found {_kind(key)}", *_line_of(node)
            )
    return config


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and deep nesting, and keeps timestamps as text.

    PyYAML keeps the last of duplicate keys silently; Pulumi's Go YAML refuses them, and so do we.
    Timestamps stay strings because that is what Go's YAML gives an untyped value (and json.dumps has no dates).
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        # The composer recurses once per level: bound it before Python's own recursion limit does.
        self._depth += 1
        try:
            if self._depth > _MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise ComposerError(None, None, f"nested more than {_MAX_DEPTH} levels deep", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: dict[Any, tuple[Any, Node]] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<` merges are overridden by explicit keys by design
            key = self.construct_object(key_node, deep=False)
            try:
                first = seen.get(key)
            except TypeError:
                continue  # unhashable: the base class reports it with its mark
            if first is not None:
                first_key, first_node = first
                # Python merges keys YAML calls distinct (1, 1.0, true): then name both.
                earlier = "first" if repr(first_key) == repr(key) else f"same as {_shown(first_key)}"
                problem = f"duplicate key {_shown(key)} ({earlier} at line {first_node.start_mark.line + 1})"
                raise ConstructorError(None, None, problem, key_node.start_mark)
            seen[key] = (key, key_node)
        return super().construct_mapping(node, deep)


def _timestamp_as_text(loader: _StrictLoader, node: ScalarNode) -> str:
    return loader.construct_scalar(node)


_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)


def _load_yaml(path: Path) -> tuple[Any, Node | None]:
    """The file's single document and its node tree (for line numbers); StackFileError for anything unsound."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise StackFileError(path, f"cannot read the file: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise StackFileError(
            path, f"not UTF-8 text: byte 0x{raw[exc.start]:02x} at byte offset {exc.start} ({exc.reason})", line
        ) from None
    try:
        root, data = _parse(text)
    except yaml.MarkedYAMLError as exc:
        raise _marked(path, exc) from None
    except ReaderError as exc:
        raise _reader(path, text, exc) from None
    except yaml.YAMLError as exc:
        raise StackFileError(path, f"not valid YAML: {exc}") from None
    _check_values(path, data)
    return data, root


def _parse(text: str) -> tuple[Node | None, Any]:
    loader = _StrictLoader(text)  # checks for unprintable characters here already
    try:
        root = loader.get_single_node()
        return root, (loader.construct_document(root) if root is not None else None)
    finally:
        loader.dispose()


def _marked(path: Path, exc: yaml.MarkedYAMLError) -> StackFileError:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "not valid YAML"
    if exc.problem and exc.context and exc.context_mark is not None:
        context_at = exc.context_mark
        problem += f" ({exc.context} at line {context_at.line + 1}, column {context_at.column + 1})"
    if mark is None:
        return StackFileError(path, problem)
    return StackFileError(path, problem, mark.line + 1, mark.column + 1)


def _reader(path: Path, text: str, exc: ReaderError) -> StackFileError:
    position = int(exc.position)
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    character = exc.character
    code = ord(character) if isinstance(character, str) else int(character)  # PyYAML passes the code point
    shown = f"#x{code:04x}"
    return StackFileError(path, f"unacceptable character {shown}: {exc.reason}", line, column)


def _check_values(path: Path, data: Any) -> None:
    """Refuse what json.dumps cannot pass on as config text: cycles, alias bombs, non-JSON types."""
    count = 0
    open_containers: set[int] = set()

    def walk(value: Any, where: str, depth: int) -> None:
        nonlocal count
        count += 1
        if count > _MAX_VALUES:
            raise StackFileError(path, f"more than {_MAX_VALUES} values once aliases are expanded")
        if value is None or isinstance(value, str | bool | int | float):
            return
        if not isinstance(value, dict | list):
            raise StackFileError(path, f"{where or 'the document'}: {_unsupported(value)}")
        if id(value) in open_containers:
            raise StackFileError(path, f"{where}: an alias refers to a value that contains it (a cycle)")
        if depth > _MAX_DEPTH:
            raise StackFileError(path, f"{where}: nested more than {_MAX_DEPTH} levels deep (through aliases)")
        open_containers.add(id(value))
        if isinstance(value, dict):
            for key, item in value.items():
                if not (key is None or isinstance(key, str | bool | int | float)):
                    raise StackFileError(path, f"{where or 'the document'}: key {_unsupported(key)}")
                walk(item, f"{where}.{key}" if where else str(key), depth + 1)
        else:
            for index, item in enumerate(value):
                walk(item, f"{where}[{index}]", depth + 1)
        open_containers.discard(id(value))

    walk(data, "", 0)


def _unsupported(value: Any) -> str:
    kind = type(value).__name__
    return f"a value of type {kind} is not supported (only strings, numbers, booleans, null, lists and mappings)"


def _value_node(root: Node | None, key: str) -> Node | None:
    if isinstance(root, MappingNode):
        for key_node, value_node in root.value:
            if isinstance(key_node, ScalarNode) and key_node.value == key:
                return value_node  # type: ignore[no-any-return]
    return None


def _line_of(node: Node | None) -> tuple[int, int] | tuple[()]:
    return (node.start_mark.line + 1, node.start_mark.column + 1) if node is not None else ()


def _kind(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    if value is None:
        return "nothing (null)"
    return names.get(type(value), f"a {type(value).__name__}")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _as_config_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)
