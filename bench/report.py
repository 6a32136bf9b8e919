"""The bench's table, the floor's explanation, and the plot."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bench.launch_day import BURST, DEPLOYMENT_INTERVAL, RATE, STAGES, Run

HEADER = (
    "implementation",
    "N",
    "phase",
    "time",
    "makespan s",
    "floor s",
    "÷ floor",
    "calls/reg",
    "deploys",
    "409s",
    "429s",
    "failed",
    "p50 s",
    "p95 s",
)


def rows(runs: Sequence[Run]) -> list[tuple[str, ...]]:
    lines: list[tuple[str, ...]] = []
    for run in runs:
        for phase in (run.create, run.delete):
            if not phase.stacks:
                # Nothing to delete: every Create failed (and was rolled back in its phase).
                lines.append(
                    (
                        run.implementation.name,
                        str(run.tenants),
                        phase.name,
                        f"x{run.time_scale:g}",
                        *["-"] * (len(HEADER) - 4),
                    )
                )
                continue
            floor = phase.floor()
            lines.append(
                (
                    run.implementation.name,
                    str(run.tenants),
                    phase.name,
                    f"x{run.time_scale:g}",
                    f"{phase.makespan:.1f}",
                    f"{floor:.1f}",
                    f"{phase.makespan / floor:.2f}" if floor else "-",
                    f"{len(phase.apigateway_calls) / max(1, len(phase.stacks)):.1f}",
                    str(phase.deployments),
                    str(phase.count(status=409)),
                    str(phase.count(status=429)),
                    str(phase.failures),
                    f"{phase.percentile(0.5):.1f}",
                    f"{phase.percentile(0.95):.1f}",
                )
            )
    return lines


def table(runs: Sequence[Run]) -> str:
    lines = [HEADER, *rows(runs)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]
    rendered = []
    for index, line in enumerate(lines):
        cells = [
            cell.ljust(width) if column < 4 else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(line, widths, strict=True))
        ]
        rendered.append("  ".join(cells))
        if index == 0:
            rendered.append("  ".join("-" * width for width in widths))
    return "\n".join(rendered)


def seed_time(run: Run) -> float:
    """How long the seed's sequence needs to make all N registrations live: its makespan when
    none failed; else at least its quota floor for all its work, N x S deployments one per
    5 s (it deploys every stage for every registration)."""
    if run.create.failures == 0:
        return run.create.makespan
    deployments = run.tenants * len(STAGES)
    return max(run.create.makespan, (deployments - 1) * DEPLOYMENT_INTERVAL)


def explain_floor() -> str:
    return (
        "floor: the least time API Gateway's quotas allow for the calls the run made, the\n"
        f"largest of: accepted calls beyond a burst of {BURST} at {RATE:g}/s; one\n"
        f"CreateDeployment per {DEPLOYMENT_INTERVAL:g} s (the first free); the mean service "
        "times of the\nchanges to the API, which cannot overlap. Calls answered 429 took no "
        "token. All times are\nmodel seconds (what they would be on AWS; 'time' is the slow "
        "motion the run needed to emulate\nN containers on two cores). p50/p95: time from the "
        "request to its answer, for those answered\nSUCCESS. The seed's sequence fails on 409 "
        "(botocore does not retry it) and on the CreateDeployment\nquota; to make all N "
        "registrations live it needs at least (N x 2 - 1) x 5 s: speedup_vs_seed\ncompares "
        "with that."
    )


def plot(runs: Sequence[Run], path: Path) -> None:
    import matplotlib  # noqa: PLC0415 (only the bench needs it, and it is slow to import)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    figure, axes = plt.subplots(figsize=(7.5, 5), dpi=110)
    for name, colour in (
        ("this project", "tab:blue"),
        ("seed", "tab:red"),
    ):
        measured = sorted(
            (run for run in runs if run.implementation.name == name), key=lambda r: r.tenants
        )
        if not measured:
            continue
        sizes = [run.tenants for run in measured]
        axes.plot(
            sizes,
            [run.create.makespan for run in measured],
            "o-",
            color=colour,
            label=f"{name}: last answer",
        )
        for run in measured:
            if run.create.failures:
                axes.annotate(
                    f"{run.create.failures}/{run.tenants} FAILED",
                    (run.tenants, run.create.makespan),
                    textcoords="offset points",
                    xytext=(4, -12),
                    fontsize=7,
                    color=colour,
                )
        if name == "seed":
            axes.plot(
                sizes,
                [seed_time(run) for run in measured],
                ":",
                color=colour,
                label="seed: least time to make all N live ((2N - 1) x 5 s of deployments)",
            )
        else:
            axes.plot(
                sizes,
                [max(run.create.floor(), 0.1) for run in measured],
                "--",
                color=colour,
                alpha=0.6,
                label=f"{name}: quota floor for its calls",
            )
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("tenants registered at once (N), 2 stages")
    axes.set_ylabel("seconds until the last answer (model time, as on AWS)")
    axes.set_title("Launch day on API Gateway's quotas")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=7, loc="upper left")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
