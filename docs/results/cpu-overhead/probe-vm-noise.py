"""How noisy is this machine's CPU, and on what time scale? (2026-12-07, afternoon)

A pure-Python busy loop on one core, cut into chunks of the same work, for --seconds: the chunks'
spread (sd / mean), their autocorrelation at lags of 5 ms ... 1 s, the spread of means over longer
windows, thread CPU time beside wall time, and /proc/stat's steal ticks. Nothing else of llmbench
runs: the spread is the machine's. It bounds what a harness-overhead CI can show in a given time.

    python docs/results/cpu-overhead/probe-vm-noise.py [--seconds 15]
"""

import argparse
import statistics
import time


def stat_ticks() -> list[int]:
    """/proc/stat's first line: user nice system idle iowait irq softirq steal (clock ticks)."""
    with open("/proc/stat") as stat:
        return list(map(int, stat.readline().split()[1:9]))


def chunks(seconds: float, work: int) -> tuple[list[float], list[float]]:
    """Wall and thread-CPU seconds of each chunk of `work` additions, for `seconds`."""
    wall, cpu = [], []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        started, started_cpu, total = time.perf_counter(), time.thread_time(), 0
        for i in range(work):
            total += i
        wall.append(time.perf_counter() - started)
        cpu.append(time.thread_time() - started_cpu)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=15)
    seconds = parser.parse_args().seconds
    before = stat_ticks()
    wall, cpu = chunks(seconds, 60_000)
    ticks = [b - a for a, b in zip(before, stat_ticks(), strict=True)]
    n, mean, var = len(wall), statistics.mean(wall), statistics.pvariance(wall)
    print(f"{n} chunks of {mean * 1e3:.1f} ms; sd / mean {100 * var**0.5 / mean:.1f} %")
    print(
        f"thread CPU: sd / mean {100 * statistics.pstdev(cpu) / statistics.mean(cpu):.1f} % "
        f"(CPU / wall {sum(cpu) / sum(wall):.3f})"
    )
    print("/proc/stat ticks over the run: user nice system idle iowait irq softirq steal =", ticks)
    for lag in (1, 2, 5, 10, 20, 50, 100, 200):
        r = sum((wall[i] - mean) * (wall[i + lag] - mean) for i in range(n - lag)) / (n - lag) / var
        print(f"  autocorrelation at lag {lag:3d} ({lag * mean * 1e3:4.0f} ms): {r:+.2f}")
    for k in (1, 5, 20, 100, 400):
        means = [statistics.mean(wall[i : i + k]) for i in range(0, n - k + 1, k)]
        if len(means) > 2:
            print(
                f"  means over {k:3d} chunks ({k * mean * 1e3:5.0f} ms): sd / mean "
                f"{100 * statistics.pstdev(means) / statistics.mean(means):.2f} %"
            )


if __name__ == "__main__":
    main()
