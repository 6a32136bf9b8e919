"""How much of the machine the bench gets now, and the slow motion that follows from it.

The model runs N Lambda containers, each with a CPU of its own on AWS, on this machine's cores,
shared with the local AWS and with whatever else runs here. So the model's time is stretched by
one factor: one for every ``TENANTS_PER_CORE`` tenants a core can carry, divided by the share of
the cores the bench gets now. The share is measured, not assumed: one busy process per core for
a moment; the CPU time they were given over the time that passed is how many cores are free.
A machine half taken by other work doubles the factor, so that the figures stay those of the
model, not of the machine's load.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass

# At 2 free cores, up to 25 tenants run in real time (x1); 200 at x8, 1,000 at x40.
TENANTS_PER_CORE = 12.5
# A free share below this is a machine too busy to calibrate on; the factor stops growing there
# (and the figures say so through the load they print).
LEAST_SHARE = 0.25
PROBE_SECONDS = 1.0

_BUSY = (
    "import time\n"
    "end = time.monotonic() + {seconds}\n"
    "while time.monotonic() < end:\n"
    "    pass\n"
    "print(time.process_time())\n"
)


def cores() -> int:
    return len(os.sched_getaffinity(0))


@dataclass(frozen=True)
class Load:
    """What the machine gave a probe of one busy process per core."""

    cores: int
    free_cores: float  # CPU seconds per second the probes got, summed
    load_average: float  # the kernel's one-minute load average, before the probe

    @property
    def share(self) -> float:
        return max(LEAST_SHARE, min(1.0, self.free_cores / self.cores))

    def time_scale(self, tenants: int) -> float:
        return max(1.0, tenants / (TENANTS_PER_CORE * self.cores * self.share))

    def describe(self, tenants: int) -> str:
        return (
            f"load: {self.free_cores:.2f} of {self.cores} cores free "
            f"(load average {self.load_average:.2f}); N={tenants} runs at "
            f"x{self.time_scale(tenants):.3g}"
        )


def measure(seconds: float = PROBE_SECONDS) -> Load:
    load_average = os.getloadavg()[0]
    started = time.monotonic()
    probes = [
        subprocess.Popen(
            [sys.executable, "-c", _BUSY.format(seconds=seconds)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(cores())
    ]
    given = sum(float(probe.communicate()[0]) for probe in probes)
    elapsed = time.monotonic() - started
    return Load(cores(), given / elapsed, load_average)


class ForeignLoad:
    """Other work on the machine: one busy process per core, for a loaded run."""

    def __init__(self) -> None:
        self._processes: list[subprocess.Popen[str]] = []

    def __enter__(self) -> ForeignLoad:
        code = "while True:\n    pass\n"
        self._processes = [
            subprocess.Popen([sys.executable, "-c", code], text=True) for _ in range(cores())
        ]
        return self

    def __exit__(self, *_: object) -> None:
        for process in self._processes:
            process.kill()
            process.wait()
