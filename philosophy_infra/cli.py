"""`philosophy-infra plan --stack NAME`: the plan of a stack's layers without the Pulumi CLI, cloud or credentials."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import sys
import time
from pathlib import Path

EXIT_OK, EXIT_ERROR, EXIT_CONFIG = 0, 1, 2


class OutputError(Exception):
    """Somewhere the CLI was told to write cannot be written: one line, exit 1."""


def main(argv: list[str] | None = None) -> int:
    try:
        code = _main(argv)
        # Flushed here, so a closed pipe is met inside this handler rather than at interpreter exit.
        sys.stdout.flush()
        return code
    except OutputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        # The reader went away (`| head`). Python would print a traceback when it flushes stdout at exit:
        # point stdout at nothing instead, and say it once.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        print("error: the output was closed before the report was written", file=sys.stderr)
        return EXIT_ERROR


def write_file(path: Path, text: str, what: str) -> None:
    try:
        path.write_text(text)
    except OSError as exc:
        raise OutputError(f"cannot write {what} to {path}: {exc.strerror or exc}") from None


def _main(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="philosophy-infra", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    plan = sub.add_parser("plan", help="run each layer's __main__.py for a stack under Pulumi's mock runtime")
    plan.add_argument("--stack", required=True, help="stack name: reads Pulumi.<stack>.yaml of each layer")
    plan.add_argument(
        "--layer",
        choices=["all", "aws", "kubernetes", "bootstrap"],
        default="all",
        help="plan one layer (the Kubernetes layer still reads the AWS layer's planned outputs); default: all "
        "(the environment layers; the bootstrap's stacks are per account: --stack shared --layer bootstrap)",
    )
    plan.add_argument(
        "--json", metavar="PATH", help="write the plan as JSON (schema v1); '-' for stdout (then no human report)"
    )
    plan.add_argument(
        "--project-dir", type=Path, help="the checkout: directory of the AWS layer's Pulumi.yaml (default: from cwd)"
    )
    plan.add_argument("--manifests", metavar="DIR", type=Path, help="also write every Kubernetes object as YAML")
    plan.add_argument("--quiet", action="store_true", help="no human report")
    plan.add_argument(
        "--policy",
        action="store_true",
        help="also run the policy pack (policy/) on the plan; exit 3 if a mandatory policy is violated",
    )
    diff = sub.add_parser("diff", help="what the working tree changes in the offline plan, against a git revision")
    diff.add_argument("--stack", required=True, help="stack name")
    diff.add_argument("--base", help="git revision to compare with (default: the merge base of HEAD with main)")
    diff.add_argument("--layer", choices=["all", "aws", "kubernetes", "bootstrap"], default="all", help="default: all")
    diff.add_argument("--json", metavar="PATH", help="write the diff as JSON; '-' for stdout")
    diff.add_argument("--markdown", action="store_true", help="the report as Markdown (a pull-request comment)")
    diff.add_argument("--project-dir", type=Path, help="the checkout (default: from cwd)")
    render = sub.add_parser(
        "render", help="write the service's release objects (Argo CD's) for a stack to deploy/<stack>/"
    )
    render.add_argument("--stack", required=True, help="stack name: reads Pulumi.<stack>.yaml of both layers")
    render.add_argument("--project-dir", type=Path, help="the checkout (default: from cwd)")
    render.add_argument("--out", type=Path, help="write here instead of <checkout>/deploy/<stack>/")
    render.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if the directory differs from what render makes"
    )
    _add_dr_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "dr":
        return _dr(args)
    if args.command == "diff":
        return _diff(args)
    if args.command == "render":
        return _render(args)
    return _plan(args)


def _add_dr_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dr = sub.add_parser(
        "dr", help="disaster recovery: recovery points against the RPO, a restore drill against the RTO (reads AWS)"
    )
    commands = dr.add_subparsers(dest="dr_command", required=True)
    status = commands.add_parser(
        "status",
        help="the newest recovery point of every protected resource in the stack's and the DR region, against the "
        "RPO; exit 1 if any is beyond it or missing",
    )
    drill = commands.add_parser(
        "drill",
        help="restore the database's latest recovery point into the DR region, isolated; time it against the RTO, "
        "check it answers, delete it",
    )
    for command in (status, drill):
        command.add_argument("--stack", required=True, help="stack name: names and regions from Pulumi.<stack>.yaml")
        command.add_argument("--project-dir", type=Path, help="the checkout (default: from cwd)")
    status.add_argument("--json", metavar="PATH", help="write the status as JSON; '-' for stdout (then no table)")
    drill.add_argument("--keep", action="store_true", help="keep the restored instance (default: delete it)")
    drill.add_argument(
        "--poll-seconds", type=float, default=30, help="seconds between status polls while restoring (default: 30)"
    )
    drill.add_argument("--subnet-group", metavar="NAME", help="DB subnet group in the DR region for the instance")
    drill.add_argument(
        "--security-group", metavar="ID", action="append", help="VPC security group for the instance (repeatable)"
    )
    drill.add_argument(
        "--connect",
        action="store_true",
        help="also open a TCP connection to the endpoint (needs a route into the DR VPC; off by default)",
    )


def _dr(args: argparse.Namespace) -> int:
    # Imported here: boto3 and the config models are for `dr` alone.
    from philosophy_infra.dr import command

    return command.status(args) if args.dr_command == "status" else command.drill(args)


def _diff(args: argparse.Namespace) -> int:
    from philosophy_infra.plan_diff import PlanUnavailableError, diff_against, render_text
    from philosophy_infra.project import InvalidStackNameError, check_stack_name, find_project_dir

    try:
        check_stack_name(args.stack)
    except InvalidStackNameError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    root = (args.project_dir or find_project_dir()).resolve()
    try:
        diff = diff_against(root, args.stack, args.base, args.layer)
    except PlanUnavailableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    report = render_text(diff, markdown=args.markdown)
    if args.json == "-":
        print(json.dumps(diff.to_json(), indent=2, sort_keys=True))
        print(report, file=sys.stderr)
        return EXIT_OK
    if args.json:
        write_file(Path(args.json), json.dumps(diff.to_json(), indent=2, sort_keys=True) + "\n", "the diff")
    print(report)
    return EXIT_OK


def _render(args: argparse.Namespace) -> int:
    from philosophy_infra.config.base import StackConfigError
    from philosophy_infra.project import StackFileError, UnknownStackError, find_project_dir
    from philosophy_infra.release.render import compare, deploy_path, render_stack, write

    root = (args.project_dir or find_project_dir()).resolve()
    try:
        files = render_stack(root, args.stack)
    except (StackConfigError, UnknownStackError, StackFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    directory = args.out or root / deploy_path(args.stack)
    if args.check:
        difference = compare(directory, files)
        if difference:
            print(f"error: {directory} is not what `render --stack {args.stack}` makes:", file=sys.stderr)
            for line in difference.lines():
                print(f"  {line}", file=sys.stderr)
            print(f"run: philosophy-infra render --stack {args.stack}, and commit the result", file=sys.stderr)
            return EXIT_ERROR
        print(f"{directory}: {len(files)} objects, as rendered")
        return EXIT_OK
    try:
        written = write(directory, files)
    except OSError as exc:
        raise OutputError(f"cannot write the release objects to {directory}: {exc.strerror or exc}") from None
    print(f"wrote {len(written)} release objects to {directory}")
    return EXIT_OK


def _plan(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    # Imported here so `--help` stays instant; these pull in the Pulumi SDKs.
    from philosophy_infra.config.base import StackConfigError
    from philosophy_infra.layers import DEPLOY_ORDER, LAYERS, LayerName
    from philosophy_infra.manifests import write_manifests
    from philosophy_infra.project import StackFileError, UnknownStackError, find_project_dir
    from philosophy_infra.report import render, timing
    from philosophy_infra.stack_plan import plan_stack

    root = (args.project_dir or find_project_dir()).resolve()
    layers = list(DEPLOY_ORDER) if args.layer == "all" else [LayerName(args.layer)]
    try:
        for layer in DEPLOY_ORDER:
            _preload_program_imports(LAYERS[layer].directory(root) / "__main__.py")
        imported = time.perf_counter() - started
        plan = plan_stack(args.stack, layers, root)
    except (StackConfigError, UnknownStackError, StackFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except Exception as exc:  # noqa: BLE001 - the CLI's job is a clear message and exit code 1
        print(f"error: the program failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR

    for warning in plan.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    from philosophy_infra.release.render import deploy_path, stack_release_objects

    # The service's release objects (Argo CD's) come with the Kubernetes layer's plan.
    with_release = LayerName.KUBERNETES in {layer.name for layer, _ in plan.layers}
    release = stack_release_objects(root, args.stack) if with_release else []
    # JSON on stdout is for a program to read: no human report next to it.
    quiet = args.quiet or args.json == "-"
    if args.manifests:
        try:
            written = write_manifests(plan, args.manifests, release)
        except OSError as exc:
            raise OutputError(f"cannot write the manifests to {args.manifests}: {exc.strerror or exc}") from None
        if not quiet:
            print(f"wrote {len(written)} Kubernetes manifests to {args.manifests}", file=sys.stderr)
    plan_json = plan.to_json()
    if with_release:
        from philosophy_infra.release.render import file_name

        # Added in schema v1: what Argo CD syncs, by identity and committed file (the objects are in --manifests).
        plan_json["releaseObjects"] = [
            {
                "apiVersion": o["apiVersion"],
                "kind": o["kind"],
                "namespace": o["metadata"]["namespace"],
                "name": o["metadata"]["name"],
                "owner": "argocd",
                "file": f"{deploy_path(args.stack)}/{file_name(o)}",
            }
            for o in release
        ]
    document = json.dumps(plan_json, indent=2, sort_keys=True)
    if args.json == "-":
        print(document)
    elif args.json:
        write_file(Path(args.json), document + "\n", "the plan")
    if not quiet:
        print(render(plan, release, deploy_path(args.stack)))
        print(timing(plan, imported), file=sys.stderr)
    if args.policy:
        from philosophy_infra.policy_check import check_for_cli

        return check_for_cli(plan, root, sys.stderr if args.json == "-" else sys.stdout)
    return EXIT_OK


# The SDKs load their submodules lazily, on first use of a class; touching those classes up front keeps SDK
# import time out of the program's own timing.
_SDK_ALIASES = {"aws": "pulumi_aws", "eks": "pulumi_eks", "k8s": "pulumi_kubernetes", "random": "pulumi_random"}
_SDK_USE = re.compile(r"\b(aws|eks|k8s|random)\.((?:[a-z0-9_]+\.)*)([A-Z]\w*)\b")


def preload_program_imports(root: Path) -> None:
    """Import what every layer's program uses, as `plan` does before it runs them: once, for a process that
    plans many times (the test session)."""
    from philosophy_infra.layers import DEPLOY_ORDER, LAYERS

    for layer in DEPLOY_ORDER:
        _preload_program_imports(LAYERS[layer].directory(root) / "__main__.py")


def _preload_program_imports(main_py: Path) -> None:
    """Import what __main__.py and the components use before the clock of the program itself starts, with the
    garbage collector paused and the result frozen (see philosophy_infra.speed)."""
    from philosophy_infra.speed import frozen_imports

    with frozen_imports():
        _import_what_is_used(main_py)


def _import_what_is_used(main_py: Path) -> None:
    components = Path(__file__).resolve().parent.parent / "components"
    sources = [main_py, *sorted(components.rglob("*.py"))] if main_py.is_file() else []
    for source in sources:
        text = source.read_text()
        for line in text.splitlines():
            match = re.match(r"\s*(?:from\s+([\w.]+)\s+import|import\s+([\w.]+))", line)
            if match:
                importlib.import_module(match.group(1) or match.group(2))
        for alias, path, name in _SDK_USE.findall(text):
            module: object = importlib.import_module(_SDK_ALIASES[alias])
            for part in path.rstrip(".").split(".") if path else []:
                module = getattr(module, part, None)
            if module is not None:
                getattr(module, name, None)
            if alias == "k8s":
                # Every Kubernetes object's inputs are serialized through these two, loaded lazily otherwise.
                importlib.import_module("pulumi_kubernetes.meta.v1")
                importlib.import_module("pulumi_kubernetes.core.v1")


if __name__ == "__main__":
    sys.exit(main())
