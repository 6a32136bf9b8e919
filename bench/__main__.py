"""``make bench`` (``python -m bench [--quick]``): launch day on the quota-faithful model.

For each N, this project and the seed's sequence register N tenants at once on 2 stages, then
delete them, on the same model; prints a table, writes ``bench/launch-day.png``, measures cold
start and the package's size, and ends with one line for the largest N.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
import time
from pathlib import Path

from bench import cold_start, load, outage, registered, report
from bench.launch_day import PROJECT, SEED, Bench, Implementation, Run

FULL = (1, 10, 50, 200)
QUICK = (1, 10, 50)
# Beyond a few tenants the model runs in slow motion by one uniform factor (quotas, service
# times, both implementations' waits and their network timeouts alike), so that the machine's
# cores can stand in for that many Lambda containers, each with its own CPU: measured before
# each run from the cores free then (bench/load.py).
OUTAGE_TENANTS = 200
QUICK_OUTAGE_TENANTS = 20

PLOT = Path(__file__).resolve().parent / "launch-day.png"
REGISTERED_PLOT = Path(__file__).resolve().parent / "registered.png"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help=f"N in {QUICK} only")
    parser.add_argument(
        "--outage-only", action="store_true", help="only the outage scenario (N=200)"
    )
    parser.add_argument(
        "--sizes", type=lambda text: tuple(int(n) for n in text.split(",")), help="e.g. 1,200"
    )
    parser.add_argument(
        "--compare-runners",
        type=int,
        metavar="N",
        help="only launch day at N, each environment started on its own, then forked",
    )
    parser.add_argument(
        "--load-check",
        type=int,
        metavar="N",
        help="only launch day at N, alone, then beside one busy process per core",
    )
    parser.add_argument(
        "--registered-only",
        action="store_true",
        help="only registered, then one more (10, 100 and 1,000 pools; 10 and 100 with --quick)",
    )
    args = parser.parse_args(argv)
    if args.compare_runners:
        return _compare_runners(args.compare_runners)
    if args.load_check:
        return _load_check(args.load_check)
    if args.registered_only:
        with Bench() as bench:
            results = registered.run(
                bench, registered.QUICK_SIZES if args.quick else registered.SIZES
            )
        _report_registered(results)
        return 0
    sizes = args.sizes or (QUICK if args.quick else FULL)
    started = time.monotonic()
    if args.outage_only:
        with Bench() as bench:
            print(_outage(bench, OUTAGE_TENANTS))
        return 0
    print(
        "launch day: N tenants registered at once on 2 stages, then deleted, on the model of "
        "API Gateway's quotas",
        flush=True,
    )
    runs = []
    with Bench() as bench:
        for tenants in sizes:
            implementations: tuple[Implementation, ...] = (PROJECT, SEED)
            for implementation in implementations:
                runs.append(_run(bench, implementation, tenants))
        outage_line = _outage(bench, QUICK_OUTAGE_TENANTS if args.quick else OUTAGE_TENANTS)
        sizes_registered = registered.QUICK_SIZES if args.quick else registered.SIZES
        print(
            f"  running registered, then one more: {', '.join(map(str, sizes_registered))} pools …",
            flush=True,
        )
        registered_results = registered.run(bench, sizes_registered)
    print()
    print(report.table(runs))
    print()
    print(report.explain_floor())
    report.plot(runs, PLOT)
    print(f"\nplot: {_shown(PLOT)}")
    print()
    print(cold_start.report())
    for run in runs:
        if run.implementation is PROJECT and run.tenants == 1:
            answered = run.delete.seconds_to_success
            print(
                "uncontended Delete (N=1): "
                + (f"answered SUCCESS in {answered[0]:.1f} s" if answered else "did not succeed")
            )
    line_from = min(LINE_FROM, max(sizes))
    lines = [_line(runs, n) for n in sorted(sizes) if n >= line_from]
    for run in runs:
        if run.implementation is PROJECT and run.tenants >= line_from:
            for phase in (run.create, run.delete):
                print(
                    f"registry reads, N={run.tenants} {phase.name}: "
                    f"{phase.read_units_per_waiter_second():.2f} read units/s per waiting "
                    f"request, peak {phase.peak_read_units_per_second():.0f} units/s (one "
                    "partition: 3,000); "
                    + ", ".join(
                        f"{name} {units:.0f}" for name, units in phase.read_units_by_call().items()
                    )
                )
            print(
                f"memory, N={run.tenants}: {run.memory_mb:.1f} MB of its own per environment "
                f"(forked), {run.memory_mb * run.tenants / 1024:.1f} GB for all"
            )
    print(f"\n(bench took {time.monotonic() - started:.0f} s)")
    print(*lines[:1], sep="\n")
    print(outage_line)
    print(*lines[1:], sep="\n")
    _report_registered(registered_results)
    return 0


def _report_registered(results: list[registered.Registered]) -> None:
    print()
    print("registered, then one more: one tenant's Create and Delete, and a scheduled run")
    print(registered.table(results))
    registered.plot(results, REGISTERED_PLOT)
    print(f"plot: {_shown(REGISTERED_PLOT)}")
    for result in results:
        print(result.line())


# One `bench: N=` line per size from this one on (or for the largest, when smaller).
LINE_FROM = 200


def _line(runs: list[Run], tenants: int) -> str:
    ours = next(r for r in runs if r.implementation is PROJECT and r.tenants == tenants)
    seed = next(r for r in runs if r.implementation is SEED and r.tenants == tenants)
    ratio = ours.makespan_over_floor()
    speedup = report.seed_time(seed) / ours.create.makespan if ours.create.makespan else math.inf
    return (
        f"bench: N={tenants} failures={ours.failures} makespan_over_floor={ratio:.2f} "
        f"speedup_vs_seed={speedup:.1f} "
        f"read_units_per_waiter_s={ours.create.read_units_per_waiter_second():.2f}"
    )


def _run(bench: Bench, implementation: Implementation, tenants: int, *, forked: bool = True) -> Run:
    """One launch day at N, in the slow motion the machine's free cores call for now."""
    measured = load.measure()
    print(
        f"  running {implementation.name}, N={tenants}, {measured.describe(tenants)} …",
        flush=True,
    )
    return bench.run(implementation, tenants, measured.time_scale(tenants), forked=forked)


def _compare_runners(tenants: int) -> int:
    """Launch day at N with each environment started on its own, then forked from one init:
    the same figures within the machine's noise say the forked runner is faithful."""
    with Bench() as bench:
        for forked in (False, True):
            run = _run(bench, PROJECT, tenants, forked=forked)
            ratio = run.makespan_over_floor()
            print(
                f"runner={'forked' if forked else 'started'} N={tenants} "
                f"failures={run.failures} "
                f"makespan_over_floor={ratio:.2f} "
                f"create_p50={run.create.percentile(0.5):.1f} "
                f"create_p95={run.create.percentile(0.95):.1f} "
                f"read_units_per_waiter_s={run.create.read_units_per_waiter_second():.2f} "
                f"memory_mb_per_environment={run.memory_mb:.1f}",
                flush=True,
            )
    return 0


def _load_check(tenants: int) -> int:
    """Launch day at N alone, then beside other work taking every core: the slow motion follows
    the cores the bench is given, so the two agree (within the run-to-run noise)."""
    ratios = []
    with Bench() as bench:
        for loaded in (False, True):
            with load.ForeignLoad() if loaded else contextlib.nullcontext():
                run = _run(bench, PROJECT, tenants)
            ratios.append(run.makespan_over_floor())
            print(
                f"  {'loaded' if loaded else 'quiet'}: failures={run.failures} "
                f"makespan_over_floor={ratios[-1]:.2f} at x{run.time_scale:.3g}",
                flush=True,
            )
    quiet, loaded_ratio = ratios
    print(
        f"bench: load_check N={tenants} quiet={quiet:.2f} loaded={loaded_ratio:.2f} "
        f"difference={abs(loaded_ratio - quiet) / quiet:.1%}"
    )
    return 0


def _shown(path: Path) -> Path:
    return path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path


def _outage(bench: Bench, tenants: int) -> str:
    print(
        f"  running the outage: N={tenants}, API Gateway unable to publish for "
        f"{outage.OUTAGE_SECONDS / 60:.0f} model minutes, model time x{outage.TIME_SCALE:g} …",
        flush=True,
    )
    result = outage.run(bench, tenants)
    print(f"  outage: {result.continuations} continuations delivered", flush=True)
    return result.line()


if __name__ == "__main__":
    sys.exit(main())
