"""Start-up cost of the Pulumi SDKs, kept out of the cyclic garbage collector's way.

Importing the SDKs the programs use creates ~330k long-lived objects (classes, functions, type hints).
With the collector running, every full collection during the imports, during the program and at
interpreter exit traverses all of them again, for nothing: they live as long as the process. So the SDKs
are imported with the collector paused, then frozen (`gc.freeze()`: moved to a permanent generation that
collections never scan), and the collector resumes. Everything allocated afterwards (the program's own
objects) is collected exactly as before.

The SDKs' size costs type checking too; mypy reads only their parts in use, and `python -m
philosophy_infra.speed` checks that every part in use is read (below).
"""

from __future__ import annotations

import ast
import contextlib
import gc
import importlib.util
import io
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path


@contextlib.contextmanager
def frozen_imports() -> Iterator[None]:
    """Import the body's modules with the collector paused, then freeze what they created.

    Freezes only when the body imported something: freezing is for-ever, and once the SDKs are loaded (a
    second plan in the same process, a test session) what is alive is mostly the previous run's garbage."""
    enabled = gc.isenabled()
    loaded = len(sys.modules)
    gc.disable()
    try:
        yield
    finally:
        if len(sys.modules) > loaded:
            gc.freeze()
        if enabled:
            gc.enable()


# mypy reads only the parts of the SDKs this checkout uses ([[tool.mypy.overrides]] in pyproject.toml skips the
# others). A service or API group used later but not added there would be Any, its arguments unchecked, with no
# error: `python -m philosophy_infra.speed` (run by .ci/run) finds such modules.
_SKIPPED_SDKS = ("pulumi_aws", "pulumi_kubernetes")
# Checked by their own mypy runs, so not in [tool.mypy] files.
_SOURCES = ("kubernetes/__main__.py", "bootstrap/__main__.py")


def sdk_modules_used(sources: Iterable[Path]) -> set[str]:
    """The modules of the skipped SDKs that `sources` import, or reach through an attribute chain of an
    imported one (`aws.ec2.Vpc` uses pulumi_aws.ec2; `k8s.apps.v1.Deployment` pulumi_kubernetes.apps.v1.Deployment),
    resolved against the installed packages' files (nothing is imported)."""
    used: set[str] = set()
    for source in sources:
        aliases: dict[str, str] = {}
        tree = ast.parse(source.read_text(), str(source))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for name in node.names:
                    top = name.name.partition(".")[0]
                    if top in _SKIPPED_SDKS:
                        used.add(name.name)
                        # `import a.b` binds `a`; `import a.b as c` binds `c` to a.b.
                        aliases[name.asname or top] = name.name if name.asname else top
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module.partition(".")[0] not in _SKIPPED_SDKS:
                    continue
                used.add(node.module)
                for name in node.names:
                    module = _submodule(node.module, name.name)
                    if module:
                        used.add(module)
                        aliases[name.asname or name.name] = module
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute):
                continue
            chain: list[str] = []
            current: ast.expr = node
            while isinstance(current, ast.Attribute):
                chain.insert(0, current.attr)
                current = current.value
            if isinstance(current, ast.Name) and current.id in aliases:
                module = aliases[current.id]
                for part in chain:
                    deeper = _submodule(module, part)
                    if deeper is None:
                        break
                    module = deeper
                used.add(module)
    return used


def _submodule(package: str, name: str) -> str | None:
    """`package.name` if that is a module or package of the installed SDK, else None (a class, a function)."""
    top = importlib.util.find_spec(package.partition(".")[0])
    if top is None or top.origin is None:
        return None
    path = Path(top.origin).parent.parent.joinpath(*package.split("."), name)
    return f"{package}.{name}" if (path / "__init__.py").is_file() or path.with_suffix(".py").is_file() else None


def unchecked_sdk_modules(root: Path) -> list[str]:
    """The SDK modules the checkout at `root` uses that its mypy configuration skips (so does not check)."""
    from mypy.config_parser import parse_config_file
    from mypy.options import Options

    options = Options()
    parse_config_file(options, lambda: None, str(root / "pyproject.toml"), io.StringIO(), io.StringIO())
    sources: list[Path] = []
    for entry in [*(options.files or []), *_SOURCES]:
        path = root / entry
        sources += sorted(path.rglob("*.py")) if path.is_dir() else [path] if path.is_file() else []
    unchecked: set[str] = set()
    for module in sdk_modules_used(sources):
        parts = module.split(".")
        for i in range(1, len(parts) + 1):
            name = ".".join(parts[:i])
            if options.clone_for_module(name).follow_imports == "skip":
                unchecked.add(name)
    return sorted(unchecked)


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    unchecked = unchecked_sdk_modules(root)
    for module in unchecked:
        print(f"error: {module} is used but mypy skips it: add it to the followed SDK modules in pyproject.toml")
    return 1 if unchecked else 0


if __name__ == "__main__":
    sys.exit(main())
