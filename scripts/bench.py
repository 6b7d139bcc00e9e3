"""Benchmark: the offline plan of a stack and the whole test suite, on this machine.

    .venv/bin/python scripts/bench.py [--stack prod] [--runs 5] [--no-tests]

Speed is measured here, never asserted in tests. The plan is timed in a fresh process per run, split into
interpreter + SDK imports (what any Pulumi Python program pays) and the program's own time under the mock
runtime (what this project controls; target < 1 s). The suite is timed once, end to end (target < 60 s).
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_TIME = re.compile(r"Time: SDK imports ([\d.]+)s, program ([\d.]+)s")


def bench_plan(stack: str, runs: int) -> None:
    walls, imports, programs = [], [], []
    for _ in range(runs):
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "philosophy_infra", "plan", "--stack", stack, "--json", "/dev/null"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        walls.append(time.perf_counter() - started)
        match = _TIME.search(result.stdout)
        if not match:
            raise SystemExit(f"no timing line in the plan output:\n{result.stdout[-500:]}")
        imports.append(float(match.group(1)))
        programs.append(float(match.group(2)))
    resources = re.search(r"Resources: (\d+)", result.stdout)
    print(f"plan --stack {stack} ({resources.group(1) if resources else '?'} resources), {runs} runs:")
    for label, values in (("wall clock", walls), ("SDK imports", imports), ("program", programs)):
        print(f"  {label:12s} median {statistics.median(values):.2f}s  min {min(values):.2f}s  max {max(values):.2f}s")


def bench_tests() -> None:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"], cwd=ROOT, capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr[-300:]
    print(f"test suite: {wall:.1f}s wall ({summary})")
    if result.returncode != 0:
        raise SystemExit(result.returncode)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", default="prod")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-tests", action="store_true")
    args = parser.parse_args()
    bench_plan(args.stack, args.runs)
    if not args.no_tests:
        bench_tests()


if __name__ == "__main__":
    main()
