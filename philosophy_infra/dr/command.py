"""The bodies of `philosophy-infra dr status` and `dr drill`: load the stack's target, talk to AWS, exit codes.

Exit codes: 0 within the objective; 1 beyond it, a failed drill, or an AWS error (one line, no traceback); 2 bad
input (unknown stack, invalid config); 130 a drill interrupted with Ctrl-C (after cleaning up)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from philosophy_infra.cli import EXIT_CONFIG, EXIT_ERROR, EXIT_OK, write_file
from philosophy_infra.config.base import StackConfigError
from philosophy_infra.dr.clients import Boto3Clients, Clients
from philosophy_infra.dr.target import DrTarget, load_target
from philosophy_infra.project import StackFileError, UnknownStackError, find_project_dir

EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a program stopped with Ctrl-C


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Runtime:
    """What the commands take from the world; tests replace `RUNTIME` with moto's or stubbed clients and a clock."""

    clients: Callable[[], Clients] = Boto3Clients
    clock: Callable[[], datetime] = utcnow
    sleep: Callable[[float], None] = time.sleep


RUNTIME = Runtime()


def status(args: argparse.Namespace) -> int:
    from philosophy_infra.dr.status import collect_status

    target = _target(args)
    if target is None:
        return EXIT_CONFIG
    runtime = RUNTIME

    def run() -> int:
        report = collect_status(target, runtime.clients(), runtime.clock())
        document = json.dumps(report.to_json(), indent=2, sort_keys=True)
        if args.json == "-":
            print(document)
        else:
            if args.json:
                write_file(Path(args.json), document + "\n", "the status")
            print(report.render())
        return EXIT_OK if report.ok else EXIT_ERROR

    return _aws(run)


def drill(args: argparse.Namespace) -> int:
    from philosophy_infra.dr.drill import DrillInterruptedError, DrillOptions, run_drill

    target = _target(args)
    if target is None:
        return EXIT_CONFIG
    if args.poll_seconds < 0:
        print("error: --poll-seconds must be 0 or more", file=sys.stderr)
        return EXIT_CONFIG
    runtime = RUNTIME
    options = DrillOptions(
        keep=args.keep,
        poll_seconds=args.poll_seconds,
        subnet_group=args.subnet_group,
        security_groups=tuple(args.security_group or ()),
        connect=args.connect,
    )

    def run() -> int:
        try:
            result = run_drill(
                target, runtime.clients(), options, clock=runtime.clock, sleep=runtime.sleep, progress=sys.stderr
            )
        except DrillInterruptedError as exc:
            print(f"interrupted: {exc.cleaned}", file=sys.stderr)
            return EXIT_INTERRUPTED
        print(result.summary())
        return EXIT_OK if result.ok else EXIT_ERROR

    try:
        return _aws(run)
    except KeyboardInterrupt:
        # Before the restore was requested (finding the source): nothing was started.
        print("interrupted: nothing was started", file=sys.stderr)
        return EXIT_INTERRUPTED


def _target(args: argparse.Namespace) -> DrTarget | None:
    root = (args.project_dir or find_project_dir()).resolve()
    try:
        return load_target(root, args.stack)
    except (StackConfigError, UnknownStackError, StackFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def _aws(run: Callable[[], int]) -> int:
    """`run`, with AWS's errors as one line and exit 1."""
    try:
        return run()
    except NoCredentialsError:
        print(
            "error: no AWS credentials: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) for the "
            "stack's account",
            file=sys.stderr,
        )
    except ClientError as exc:
        error = exc.response.get("Error", {})
        print(
            f"error: AWS {exc.operation_name}: {error.get('Code', '?')}: {_one_line(error.get('Message', ''))}",
            file=sys.stderr,
        )
    except BotoCoreError as exc:
        print(f"error: AWS: {_one_line(str(exc))}", file=sys.stderr)
    return EXIT_ERROR


def _one_line(text: str) -> str:
    return " ".join(text.split())
