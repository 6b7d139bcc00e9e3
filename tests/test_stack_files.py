"""Stack and project files are untrusted input: each malformation is a StackFileError naming file and line."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from philosophy_infra.plan import SECRET
from philosophy_infra.project import (
    InvalidStackNameError,
    StackFileError,
    UnknownStackError,
    available_stacks,
    project_defaults,
    project_name,
    read_stack_file,
)

ROOT = Path(__file__).resolve().parent.parent
MINIMAL_PROJECT = "name: philosophy-infra\n"
ALLOWED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-"
NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,100}")


def project(tmp_path: Path, text: str = MINIMAL_PROJECT) -> Path:
    (tmp_path / "Pulumi.yaml").write_text(text)
    return tmp_path


def stack_error(tmp_path: Path, body: str | bytes, *, stack: str = "s") -> StackFileError:
    """Write `body` as Pulumi.<stack>.yaml next to a minimal project and return the error reading it."""
    project(tmp_path)
    path = tmp_path / f"Pulumi.{stack}.yaml"
    path.write_bytes(body if isinstance(body, bytes) else body.encode())
    with pytest.raises(StackFileError) as caught:
        read_stack_file(tmp_path, stack)
    assert str(path) in str(caught.value)
    return caught.value


def config_text(value: Any) -> str:
    """What Pulumi hands the program for one config value (JSON text for structured values)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


# --- the real files ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["prod", "staging"])
def test_real_stack_files_read_as_safe_load_reads_them(stack: str) -> None:
    project_data = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    stack_data = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    expected: dict[str, Any] = {}
    for key, decl in project_data["config"].items():
        if isinstance(decl, dict) and "default" in decl:
            expected[f"philosophy-infra:{key}"] = decl["default"]
    expected.update(stack_data["config"])

    file = read_stack_file(ROOT, stack)

    assert file.project == "philosophy-infra" == project_name(ROOT)
    assert file.config == {key: config_text(value) for key, value in expected.items()}
    assert json.loads(file.config["philosophy-infra:network"]) == stack_data["config"]["philosophy-infra:network"]
    assert file.secret_keys == []
    assert stack in available_stacks(ROOT)


def test_project_defaults_of_the_real_project() -> None:
    assert project_defaults(ROOT, "philosophy-infra") == {"philosophy-infra:dataProtection": "protected"}


# --- 1. malformed YAML ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("config:\n  aws:region: eu-west-1\n  x: a: b\n", "line 3, column 7: mapping values are not allowed here"),
        (
            "config:\n  aws:region: eu-west-1\n  k: 'unclosed\n",
            "line 4, column 1: found unexpected end of stream (while scanning a quoted scalar at line 3, column 6)",
        ),
        (
            "config:\n\taws:region: eu-west-1\n",
            "line 2, column 1: found character '\\t' that cannot start any token",
        ),
        (
            "config: {}\n---\nconfig: {}\n",
            "line 2, column 1: but found another document"
            " (expected a single document in the stream at line 1, column 1)",
        ),
        (
            "config:\n  k: !!python/object/apply:os.system ['true']\n",
            "line 2, column 6: could not determine a constructor",
        ),
    ],
)
def test_malformed_stack_yaml_names_file_line_and_column(tmp_path: Path, body: str, expected: str) -> None:
    error = stack_error(tmp_path, body)
    assert str(error).startswith(f"{tmp_path / 'Pulumi.s.yaml'} {expected}")
    assert "\n" not in str(error)


def test_error_carries_one_based_line_and_column(tmp_path: Path) -> None:
    error = stack_error(tmp_path, "config:\n  aws:region: eu-west-1\n  x: a: b\n")
    assert (error.path, error.line, error.column) == (tmp_path / "Pulumi.s.yaml", 3, 7)
    assert error.problem == "mapping values are not allowed here"


def test_malformed_project_yaml_names_pulumi_yaml(tmp_path: Path) -> None:
    project(tmp_path, "name: philosophy-infra\nconfig:\n  a: b: c\n")
    (tmp_path / "Pulumi.s.yaml").write_text("config: {}\n")
    for read in (lambda: read_stack_file(tmp_path, "s"), lambda: project_name(tmp_path)):
        with pytest.raises(StackFileError) as caught:
            read()
        assert str(caught.value) == f"{tmp_path / 'Pulumi.yaml'} line 3, column 7: mapping values are not allowed here"


def test_unprintable_character_is_refused_with_its_position(tmp_path: Path) -> None:
    error = stack_error(tmp_path, "config:\n  k: a\x00b\n")
    assert str(error).endswith("line 2, column 7: unacceptable character #x0000: special characters are not allowed")


# --- 2. top level that is not a mapping -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "found"),
    [("- a\n- b\n", "a list"), ("just text\n", "a string"), ("42\n", "a number"), ("true\n", "a boolean")],
)
def test_stack_top_level_must_be_a_mapping(tmp_path: Path, body: str, found: str) -> None:
    error = stack_error(tmp_path, body)
    assert (
        str(error) == f"{tmp_path / 'Pulumi.s.yaml'} line 1, column 1: the top level must be a mapping, found {found}"
    )


@pytest.mark.parametrize("body", ["", "# only a comment\n", "---\n", "config:\n", "config: null\n"])
def test_empty_stack_file_or_config_is_a_stack_without_config(tmp_path: Path, body: str) -> None:
    project(tmp_path)
    (tmp_path / "Pulumi.s.yaml").write_text(body)
    file = read_stack_file(tmp_path, "s")
    assert (file.project, file.stack, file.config, file.secret_keys) == ("philosophy-infra", "s", {}, [])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ": the top level must be a mapping with a `name`, found nothing (null)"),
        ("- name\n", " line 1, column 1: the top level must be a mapping with a `name`, found a list"),
        ("description: x\n", " line 1, column 1: has no `name` (the project's name)"),
        ("name: 12\n", " line 1, column 7: `name` must be a string, found a number"),
        ("name: [a]\n", " line 1, column 7: `name` must be a string, found a list"),
        ("name: 'a/b'\n", " line 1, column 7: `name` 'a/b' is not a valid Pulumi project name"),
    ],
)
def test_project_file_must_be_a_mapping_with_a_string_name(tmp_path: Path, text: str, expected: str) -> None:
    project(tmp_path, text)
    (tmp_path / "Pulumi.s.yaml").write_text("config: {}\n")
    for read in (
        lambda: read_stack_file(tmp_path, "s"),
        lambda: project_name(tmp_path),
        lambda: project_defaults(tmp_path, "p"),
    ):
        with pytest.raises(StackFileError) as caught:
            read()
        assert str(caught.value).startswith(f"{tmp_path / 'Pulumi.yaml'}{expected}")


def test_missing_project_file_is_a_stack_file_error(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.s.yaml").write_text("config: {}\n")
    with pytest.raises(StackFileError) as caught:
        read_stack_file(tmp_path, "s")
    assert str(caught.value).startswith(f"{tmp_path / 'Pulumi.yaml'}: cannot read the file:")


# --- 3. config that is not a mapping ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "where", "found"),
    [
        ("config:\n  - aws:region\n", "line 2, column 3", "a list"),
        ("config: eu-west-1\n", "line 1, column 9", "a string"),
        ("config: 3\n", "line 1, column 9", "a number"),
        ("config: []\n", "line 1, column 9", "a list"),
    ],
)
def test_stack_config_must_be_a_mapping(tmp_path: Path, body: str, where: str, found: str) -> None:
    error = stack_error(tmp_path, body)
    assert (
        str(error)
        == f"{tmp_path / 'Pulumi.s.yaml'} {where}: `config` must be a mapping of keys to values, found {found}"
    )


def test_project_config_must_be_a_mapping(tmp_path: Path) -> None:
    project(tmp_path, "name: philosophy-infra\nconfig: [a, b]\n")
    (tmp_path / "Pulumi.s.yaml").write_text("config: {}\n")
    with pytest.raises(StackFileError) as caught:
        read_stack_file(tmp_path, "s")
    assert str(caught.value) == (
        f"{tmp_path / 'Pulumi.yaml'} line 2, column 9: `config` must be a mapping of keys to values, found a list"
    )


def test_config_keys_must_be_strings(tmp_path: Path) -> None:
    error = stack_error(tmp_path, "config:\n  aws:region: eu-west-1\n  12: x\n")
    assert str(error).endswith("line 2, column 3: config key 12 must be a string, found a number")


# --- 4. not UTF-8 -----------------------------------------------------------------------------------------------


def test_latin1_stack_file_is_refused_with_byte_offset(tmp_path: Path) -> None:
    body = "config:\n  k: café\n".encode("latin-1")
    error = stack_error(tmp_path, body)
    assert str(error) == (
        f"{tmp_path / 'Pulumi.s.yaml'} line 2: not UTF-8 text: byte 0xe9 at byte offset 16 (invalid continuation byte)"
    )


def test_utf16_stack_file_is_refused_at_offset_zero(tmp_path: Path) -> None:
    error = stack_error(tmp_path, "config: {}\n".encode("utf-16"))
    assert "not UTF-8 text: byte 0xff at byte offset 0" in str(error)


def test_non_utf8_project_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_bytes(b"name: philosophy-infra\ndescription: \xff\n")
    with pytest.raises(StackFileError) as caught:
        project_name(tmp_path)
    assert str(caught.value).startswith(
        f"{tmp_path / 'Pulumi.yaml'} line 2: not UTF-8 text: byte 0xff at byte offset 36"
    )


def test_utf8_with_bom_and_non_ascii_text_is_fine(tmp_path: Path) -> None:
    project(tmp_path)
    (tmp_path / "Pulumi.s.yaml").write_bytes("\ufeffconfig:\n  p:owner: Zoë\n".encode())
    assert read_stack_file(tmp_path, "s").config == {"p:owner": "Zoë"}


# --- 5. duplicate keys ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("config: {}\nconfig: {}\n", "line 2, column 1: duplicate key 'config' (first at line 1)"),
        (
            "config:\n  aws:region: eu-west-1\n  aws:region: us-east-1\n",
            "line 3, column 3: duplicate key 'aws:region' (first at line 2)",
        ),
        (
            "config:\n  p:net:\n    a: 1\n    b:\n      c: 1\n      c: 2\n",
            "line 6, column 7: duplicate key 'c' (first at line 5)",
        ),
        (
            "config:\n  p:groups:\n    - name: a\n      size: 1\n      size: 2\n",
            "line 5, column 7: duplicate key 'size' (first at line 4)",
        ),
        ("config:\n  p:flow: {x: 1, y: 2, x: 3}\n", "line 2, column 24: duplicate key 'x' (first at line 2)"),
        ("config:\n  p:m:\n    1: a\n    true: b\n", "line 4, column 5: duplicate key True (same as 1 at line 3)"),
    ],
)
def test_duplicate_keys_are_refused_at_any_depth(tmp_path: Path, body: str, expected: str) -> None:
    error = stack_error(tmp_path, body)
    assert str(error) == f"{tmp_path / 'Pulumi.s.yaml'} {expected}"


def test_duplicate_keys_in_the_project_file_are_refused(tmp_path: Path) -> None:
    project(tmp_path, "name: philosophy-infra\nconfig:\n  owner: {type: string}\n  owner: {type: string}\n")
    for read in (lambda: project_name(tmp_path), lambda: project_defaults(tmp_path, "philosophy-infra")):
        with pytest.raises(StackFileError) as caught:
            read()
        assert (
            str(caught.value) == f"{tmp_path / 'Pulumi.yaml'} line 4, column 3: duplicate key 'owner' (first at line 3)"
        )


def test_merge_keys_may_be_overridden(tmp_path: Path) -> None:
    project(tmp_path)
    (tmp_path / "Pulumi.s.yaml").write_text("base: &b {x: 1, y: 2}\nconfig:\n  p:k:\n    <<: *b\n    x: 3\n")
    assert json.loads(read_stack_file(tmp_path, "s").config["p:k"]) == {"x": 3, "y": 2}


# --- 6. stack names ---------------------------------------------------------------------------------------------


class _NoFilesystem(type(Path())):  # type: ignore[misc]
    """A project directory that fails the test as soon as a path is built from it or it is touched."""

    def __truediv__(self, other: Any) -> Path:
        raise AssertionError(f"a path was built for {other!r}")

    def glob(self, pattern: str) -> Any:
        raise AssertionError(f"the directory was listed for {pattern!r}")


NO_FS = _NoFilesystem("/nonexistent-project-dir")


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "it is empty"),
        ("../etc/passwd", "invalid character '/' at position 2"),
        ("a/b", "invalid character '/' at position 1"),
        ("/etc/passwd", "invalid character '/' at position 0"),
        ("..\\windows", "invalid character '\\\\' at position 2"),
        ("prod\n", "invalid character '\\n' at position 4"),
        ("a b", "invalid character ' ' at position 1"),
        ("prød", "invalid character 'ø' at position 2"),
        ("x" * 101, "it has 101 characters"),
    ],
)
def test_invalid_stack_names_are_refused_before_any_path_is_built(name: str, problem: str) -> None:
    with pytest.raises(InvalidStackNameError) as caught:
        read_stack_file(NO_FS, name)
    message = str(caught.value)
    assert message.startswith(f"invalid stack name {repr(name)[:100]}")
    assert f": {problem} (a Pulumi stack name is 1-100 characters, only letters, digits, '_', '.' and '-')" in message
    assert isinstance(caught.value, UnknownStackError)  # the CLI's existing handler still catches it


@pytest.fixture(scope="module")
def empty_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return project(tmp_path_factory.mktemp("project"))


_valid_names = st.text(alphabet=ALLOWED, min_size=1, max_size=100)
_invalid_names = st.one_of(
    st.just(""),
    st.text(alphabet=ALLOWED, min_size=101, max_size=300),
    st.tuples(st.text(alphabet=ALLOWED, max_size=50), st.characters(), st.text(max_size=50))
    .filter(lambda parts: parts[1] not in ALLOWED)
    .map("".join),
    st.text().filter(lambda name: NAME_RE.fullmatch(name) is None),
)


@given(_invalid_names)
def test_any_name_outside_the_grammar_is_refused(name: str) -> None:
    assert NAME_RE.fullmatch(name) is None
    with pytest.raises(InvalidStackNameError) as caught:
        read_stack_file(NO_FS, name)
    assert str(caught.value).startswith(f"invalid stack name {repr(name)[:100]}")


@given(_valid_names)
def test_any_name_inside_the_grammar_is_a_name(empty_project: Path, name: str) -> None:
    try:
        read_stack_file(empty_project, name)
    except InvalidStackNameError as exc:
        raise AssertionError(f"{name!r} was refused as a name: {exc}") from exc
    except UnknownStackError as exc:
        assert str(exc).startswith(f"unknown stack '{name}': no Pulumi.{name}.yaml in {empty_project}")
    else:
        raise AssertionError(f"{name!r} read a stack file that does not exist")


@pytest.mark.parametrize("name", ["x" * 100, "a", ".", "..", "-", "_", "A.b_c-1"])
def test_names_at_the_edges_of_the_grammar_are_names(empty_project: Path, name: str) -> None:
    with pytest.raises(UnknownStackError) as caught:
        read_stack_file(empty_project, name)
    assert not isinstance(caught.value, InvalidStackNameError)
    assert str(caught.value).startswith(f"unknown stack '{name}': no Pulumi.{name}.yaml")


def test_valid_name_reads_its_file(tmp_path: Path) -> None:
    project(tmp_path)
    name = "Team_a.prod-2"
    (tmp_path / f"Pulumi.{name}.yaml").write_text("config:\n  aws:region: eu-west-1\n")
    assert read_stack_file(tmp_path, name).config == {"aws:region": "eu-west-1"}


def test_available_stacks_lists_only_valid_names(tmp_path: Path) -> None:
    project(tmp_path)
    for name in ("prod", "a b", "staging"):
        (tmp_path / f"Pulumi.{name}.yaml").write_text("config: {}\n")
    assert available_stacks(tmp_path) == ["prod", "staging"]
    with pytest.raises(UnknownStackError) as caught:
        read_stack_file(tmp_path, "dev")
    assert "(stacks: prod, staging)" in str(caught.value)


# --- values: passed on as today, and nothing json.dumps would choke on ------------------------------------------


def test_structured_values_are_json_text_and_secure_values_are_masked(tmp_path: Path) -> None:
    project(tmp_path, "name: philosophy-infra\nconfig:\n  owner: {type: string, default: team-a}\n  tier: gold\n")
    (tmp_path / "Pulumi.s.yaml").write_text(
        "config:\n"
        "  aws:region: eu-west-1\n"
        "  philosophy-infra:net: {cidr: 10.0.0.0/16, zones: [a, b], vpn: true, days: 30}\n"
        "  philosophy-infra:flag: false\n"
        "  philosophy-infra:count: 3\n"
        "  philosophy-infra:apiKey:\n    secure: v1:AAAA+ciphertext\n"
    )
    file = read_stack_file(tmp_path, "s")
    assert file.config == {
        "philosophy-infra:owner": "team-a",
        "philosophy-infra:tier": "gold",
        "aws:region": "eu-west-1",
        "philosophy-infra:net": '{"cidr": "10.0.0.0/16", "zones": ["a", "b"], "vpn": true, "days": 30}',
        "philosophy-infra:flag": "false",
        "philosophy-infra:count": "3",
        "philosophy-infra:apiKey": SECRET,
    }
    assert file.secret_keys == ["philosophy-infra:apiKey"]


def test_timestamps_stay_text(tmp_path: Path) -> None:
    project(tmp_path)
    (tmp_path / "Pulumi.s.yaml").write_text("config:\n  p:day: 2024-01-31\n  p:m: {at: 2024-01-31 10:00:00}\n")
    assert read_stack_file(tmp_path, "s").config == {"p:day": "2024-01-31", "p:m": '{"at": "2024-01-31 10:00:00"}'}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("config:\n  p:k: &x [1, *x]\n", ": config.p:k[1]: an alias refers to a value that contains it (a cycle)"),
        ("config:\n  p:k: !!binary aGVsbG8=\n", ": config.p:k: a value of type bytes is not supported"),
        ("config:\n  p:k: !!set {a, b}\n", ": config.p:k: a value of type set is not supported"),
        ("config:\n  p:k: " + "[" * 200 + "]" * 200 + "\n", " line 2, column 70: nested more than 64 levels deep"),
        (
            "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
            + "".join(
                f"{name}: &{name} [{', '.join([f'*{prev}'] * 10)}]\n"
                for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
            ),
            ": more than 100000 values once aliases are expanded",
        ),
    ],
)
def test_values_json_cannot_carry_are_refused(tmp_path: Path, body: str, expected: str) -> None:
    error = stack_error(tmp_path, body)
    assert str(error).startswith(f"{tmp_path / 'Pulumi.s.yaml'}{expected}")
