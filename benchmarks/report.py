"""Timings of the benchmark: min/median/max per figure, ratios, JSON and a Markdown page."""

import json
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

# Partial blocks give the bars eighth-character resolution.
BLOCKS = " ▏▎▍▌▋▊▉█"
BAR_WIDTH = 30


class Timings:
    """Seconds per figure, in the order the figures were first measured."""

    def __init__(self) -> None:
        self.runs: dict[str, list[float]] = {}
        self.ratios: list[tuple[str, str, str, float | None]] = []
        self.groups: list[tuple[str, list[str]]] = []
        self.same_sets: set[str] = set()

    def add(self, figure: str, seconds: float) -> None:
        self.runs.setdefault(figure, []).append(seconds)
        print(f"{seconds:8.2f} s  {figure}", flush=True)

    def same_set(self, figure: str) -> None:
        """Every image `figure` built holds the same package set as the others' (checked)."""
        self.same_sets.update({figure, f"{figure} (whole process)"})

    def wall(self, figure: str, action: Callable[[], object]) -> None:
        start = time.perf_counter()
        action()
        self.add(figure, time.perf_counter() - start)

    def median(self, figure: str) -> float:
        return statistics.median(self.runs[figure])

    def ratio(self, name: str, ours: str, theirs: str, target: float | None = None) -> None:
        """`ours / theirs` of the medians; the target is reported, never asserted."""
        if ours in self.runs and theirs in self.runs:
            self.ratios.append((name, ours, theirs, target))

    def group(self, title: str, *figures: str) -> None:
        """Figures that the chart draws next to each other, to the same scale."""
        self.groups.append((title, [figure for figure in figures if figure in self.runs]))

    def summary(self) -> dict:
        figures = {
            figure: {
                "runs": [round(t, 3) for t in times],
                "min": round(min(times), 3),
                "median": round(statistics.median(times), 3),
                "max": round(max(times), 3),
                **({"same_set": True} if figure in self.same_sets else {}),
            }
            for figure, times in self.runs.items()
        }
        ratios = [
            {
                "name": name,
                "ours": ours,
                "theirs": theirs,
                "ratio": round(self.median(ours) / self.median(theirs), 3),
                "target": target,
            }
            for name, ours, theirs, target in self.ratios
        ]
        return {"machine": machine(), "figures": figures, "ratios": ratios}


def machine() -> dict:
    """What the numbers were measured on: they mean little without it."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])

    def command(*args: str) -> str:
        result = subprocess.run(args, capture_output=True, text=True)
        return result.stdout.strip() if result.returncode == 0 else "unavailable"

    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(memory_kb / 2**20, 1),
        "os": f"{platform.system()} {platform.release()}",
        "load_average_at_end": [round(load, 2) for load in os.getloadavg()],
        "docker": command(
            "docker", "info", "--format", "{{.ServerVersion}}, {{.Driver}}, {{.NCPU}} CPUs"
        ),
        "uv": command("uv", "--version"),
    }


def bar(value: float, largest: float) -> str:
    eighths = round(BAR_WIDTH * 8 * value / largest) if largest else 0
    full, part = divmod(eighths, 8)
    return "█" * full + (BLOCKS[part] if part else "")


def markdown(summary: dict, command: str) -> str:
    """The results as Markdown: ratios against targets, a bar chart and every figure."""
    figures = summary["figures"]
    host = summary["machine"]
    lines = [
        f"Measured {host['date']} with `{command}` on {host['cpus']} CPUs ({host['cpu']}), "
        f"{host['memory_gb']} GB RAM, {host['os']}, Docker {host['docker']}, {host['uv']}; "
        f"load average at the end {host['load_average_at_end']}.",
        "",
        "| ratio (medians) | measured | target |",
        "| --- | ---: | ---: |",
    ]
    for ratio in summary["ratios"]:
        target = f"≤ {ratio['target']}×" if ratio["target"] else ""
        met = "" if not ratio["target"] else (" ✓" if ratio["ratio"] <= ratio["target"] else " ✗")
        lines.append(f"| {ratio['name']} | {ratio['ratio']:.2f}×{met} | {target} |")
    lines += ["", "| | median | |", "| --- | ---: | :--- |"]
    for title, group in summary.get("groups", []):
        largest = max(figures[figure]["median"] for figure in group)
        lines.append(f"| **{title}** | | |")
        for figure in group:
            median = figures[figure]["median"]
            lines.append(f"| {figure} | {median:.2f} s | {bar(median, largest)} |")
    lines += [
        "",
        "| figure | runs | min | median | max | same package set |",
        "| --- | ---: | ---: | ---: | ---: | :---: |",
    ]
    for figure, stats in figures.items():
        lines.append(
            f"| {figure} | {len(stats['runs'])} | {stats['min']:.2f} s "
            f"| {stats['median']:.2f} s | {stats['max']:.2f} s "
            f"| {'✓ checked' if stats.get('same_set') else ''} |"
        )
    return "\n".join(lines) + "\n"


def write(timings: Timings, folder: Path, command: str) -> dict:
    """Print the figures and ratios, write bench.json and bench.md into `folder`."""
    summary = timings.summary()
    summary["groups"] = timings.groups
    print(f"\n{'min':>8} {'median':>8} {'max':>8}")
    for figure, stats in summary["figures"].items():
        print(f"{stats['min']:8.2f} {stats['median']:8.2f} {stats['max']:8.2f} s  {figure}")
    print()
    for ratio in summary["ratios"]:
        target = f"   (target ≤ {ratio['target']}×)" if ratio["target"] else ""
        print(f"{ratio['ratio']:8.2f} x  {ratio['name']}{target}")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bench.json").write_text(json.dumps(summary, indent=2) + "\n")
    (folder / "bench.md").write_text(markdown(summary, command))
    print(f"\nWrote {folder / 'bench.json'} and {folder / 'bench.md'}")
    return summary
