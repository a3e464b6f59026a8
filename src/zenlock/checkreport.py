"""What `check` found in each environment, and how it is said: a table of differences, one
line per environment, a verdict and the exit status."""

from dataclasses import dataclass, field

from packaging.utils import canonicalize_name
from rich.console import Console
from rich.table import Table

MISMATCH = ("drift", "missing", "stale")


@dataclass
class Report:
    environment: str
    status: str  # ok, drift, missing, stale or unavailable
    fix: str = ""
    reason: str = ""
    differences: list[dict[str, str]] = field(default_factory=list)


def compare(environment: str, locked: dict, installed: dict, fix: str) -> Report:
    found = {canonicalize_name(name): version for name, version in installed.items()}
    differences = [
        {"package": name, "locked": locked.get(name, "-"), "found": found.get(name, "-")}
        for name in sorted(locked.keys() | found.keys())
        if locked.get(name) != found.get(name)
    ]
    if not differences:
        return Report(environment, "ok")
    return Report(environment, "drift", fix, differences=differences)


def exit_status(reports: list[Report]) -> int:
    if any(report.status in MISMATCH for report in reports):
        return 1
    return 2 if any(report.status == "unavailable" for report in reports) else 0


def verdict(reports: list[Report]) -> str:
    mismatched = sum(report.status in MISMATCH for report in reports)
    unchecked = sum(report.status == "unavailable" for report in reports)
    if not mismatched and not unchecked:
        return f"All {len(reports)} environments match uv.lock."
    parts = (
        [f"{mismatched} of {len(reports)} environments do not match uv.lock"] if mismatched else []
    )
    parts += [f"{unchecked} could not be checked"] if unchecked else []
    return "; ".join(parts) + "."


def print_reports(reports: list[Report], console: Console) -> None:
    differences = [(r.environment, d) for r in reports for d in r.differences]
    if differences and console.is_terminal:
        table = Table("environment", "package", "locked", "found", title="Differences")
        for environment, difference in differences:
            table.add_row(environment, *difference.values())
        console.print(table)
    else:
        for environment, difference in differences:
            package, locked, found = difference.values()
            print(f"{environment}: {package} locked {locked}, found {found}")
    for report in reports:
        detail = f" ({report.reason})" if report.reason else ""
        fix = f" -> fix: {report.fix}" if report.fix else ""
        print(f"{report.status:>11}  {report.environment}{detail}{fix}")
    print(verdict(reports))
