"""Benchmark: how fast a command that needs no model starts, against the floor of importing what it must read.

Prints, from one run (alternating the two commands, the median of each), the wall time of
``culturalign countries`` and of ``python -c "import pandas, yaml"`` in fresh interpreters, and their ratio
(target: at most 1.5). Run it on a quiet machine:

    python bench/bench_startup.py [--runs 9]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=9)
    args = ap.parse_args()
    commands = {
        "culturalign countries": [sys.executable, "-m", "culturalign.cli", "countries"],
        "import pandas, yaml": [sys.executable, "-c", "import pandas, yaml"],
    }
    for cmd in commands.values():  # warm the file cache once
        wall(cmd)
    times = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, cmd in commands.items():
            times[name].append(wall(cmd))
    medians = {name: statistics.median(t) for name, t in times.items()}
    for name, t in medians.items():
        print(f"{name:24s} median {t:.3f} s over {args.runs} runs")
    print(
        f"ratio                    {medians['culturalign countries'] / medians['import pandas, yaml']:.2f} "
        "(target <= 1.5)"
    )


if __name__ == "__main__":
    main()
