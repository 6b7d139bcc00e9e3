"""Benchmark: the offline plan of a stack against its import floor, and the whole test suite, on this machine.

    .venv/bin/python scripts/bench.py [--stack prod] [--runs 5] [--no-tests] [--no-floor]

Speed is measured here, never asserted in tests. Each run is a fresh process:

- import floor: a process that imports exactly the SDK modules (pulumi*) the plan loads, and nothing of the
  project: what any Pulumi Python program with these resources pays before it starts. The module list is
  recorded once, from a plan run in-process.
- plan: `philosophy-infra plan --stack STACK` of both layers; wall clock, and the plan's own split into SDK
  imports (interpreter start excluded) and the program under the mock runtime. Target: wall <= 1.3x floor.

Floor and plan runs alternate, so a busy machine slows both alike. The suite is timed once, end to end.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_TIME = re.compile(r"time: SDK imports ([\d.]+)s, program ([\d.]+)s")

# Run in a child process: plan the stack in-process, then print the SDK modules that were really loaded (the
# SDKs register every submodule lazily; one that is still a _LazyModule was never executed).
_RECORD = """
import json, os, sys
from philosophy_infra.cli import main
code = main(["plan", "--stack", sys.argv[1], "--json", os.devnull, "--quiet"])
loaded = [
    name
    for name, module in list(sys.modules.items())
    if name.partition(".")[0].startswith("pulumi") and type(module).__name__ != "_LazyModule"
]
print(json.dumps(loaded))
sys.exit(code)
"""

# The floor: import each recorded module; touching an attribute executes a lazily registered one.
_FLOOR = """
import importlib, json, sys
for name in json.loads(open(sys.argv[1]).read()):
    importlib.import_module(name).__name__
"""


@dataclass(frozen=True)
class Run:
    wall: float
    peak_mb: float
    returncode: int
    stdout: str
    stderr: str


def _run(command: list[str], *, check: bool = True) -> Run:
    """One process: wall clock from spawn to exit, and its own peak RSS (wait4's rusage)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        result = Run(wall, usage.ru_maxrss / 1024, process.returncode, out.read(), err.read())
    if check and result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {result.returncode}:\n{result.stderr[-2000:]}")
    return result


def sdk_modules(stack: str) -> list[str]:
    result = _run([sys.executable, "-c", _RECORD, stack])
    modules: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return modules


def _line(label: str, values: list[float], unit: str = "s") -> str:
    median = statistics.median(values)
    return f"  {label:14s} median {median:6.2f}{unit}  min {min(values):6.2f}{unit}  max {max(values):6.2f}{unit}"


def bench_plan(stack: str, runs: int, floor: bool) -> None:
    modules_file = None
    if floor:
        modules = sdk_modules(stack)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            json.dump(modules, handle)
        modules_file = handle.name
        print(f"import floor: {len(modules)} SDK modules (pulumi*) loaded by the plan of {stack}")
    plan_command = [sys.executable, "-m", "philosophy_infra", "plan", "--stack", stack, "--json", os.devnull]
    floors: list[Run] = []
    plans: list[Run] = []
    imports: list[float] = []
    programs: list[float] = []
    try:
        for _ in range(runs):
            if modules_file:
                floors.append(_run([sys.executable, "-c", _FLOOR, modules_file]))
            plan = _run(plan_command)
            # The timing goes to stderr: the report itself is the same from run to run.
            match = _TIME.search(plan.stderr)
            if not match:
                raise SystemExit(f"no timing line in the plan output:\n{plan.stdout[-500:]}")
            plans.append(plan)
            imports.append(float(match.group(1)))
            programs.append(float(match.group(2)))
    finally:
        if modules_file:
            os.unlink(modules_file)
    # One count per layer, then the total ("Resources: N in all") when there are several.
    report = plans[-1].stdout
    resources = re.search(r"Resources: (\d+) in all", report) or re.search(r"Resources: (\d+)", report)
    print(f"plan --stack {stack}, both layers ({resources.group(1) if resources else '?'} resources), {runs} runs:")
    if floors:
        print(_line("import floor", [r.wall for r in floors]))
    print(_line("plan wall", [r.wall for r in plans]))
    print(_line("  SDK imports", imports))
    print(_line("  program", programs))
    if floors:
        print(_line("floor peak", [r.peak_mb for r in floors], " MB"))
    print(_line("plan peak", [r.peak_mb for r in plans], " MB"))
    if floors:
        floor_wall = statistics.median(r.wall for r in floors)
        plan_wall = statistics.median(r.wall for r in plans)
        best = min(r.wall for r in plans) / min(r.wall for r in floors)
        print(f"  plan / floor   {plan_wall / floor_wall:.2f}x (medians), {best:.2f}x (minima); target <= 1.3x")


def bench_tests() -> None:
    result = _run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider"], check=False)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr[-300:]
    print(f"test suite: {result.wall:.1f}s wall, peak {result.peak_mb:.0f} MB ({summary}); target < 30 s")
    if result.returncode != 0:
        raise SystemExit(result.returncode)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", default="prod")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-tests", action="store_true", help="skip the test suite")
    parser.add_argument("--no-floor", action="store_true", help="skip the import floor (and the plan/floor ratio)")
    args = parser.parse_args()
    bench_plan(args.stack, args.runs, floor=not args.no_floor)
    if not args.no_tests:
        bench_tests()


if __name__ == "__main__":
    main()
