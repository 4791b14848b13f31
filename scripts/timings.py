#!/usr/bin/env python
"""Measure the wall time of every solution notebook and write the table in the book.

Each notebook is executed once, top to bottom, on a fresh ``python3`` kernel (kernel start
included), one after another, exactly as ``scripts/run_solutions.py`` does it, but on an
in-memory copy: the notebook files are never modified. The result replaces the table between
``<!-- timings:start -->`` and ``<!-- timings:end -->`` in ``book/appendix_exec_stats.md``,
together with the date and the machine it was measured on.

Usage:  python scripts/timings.py                       # every solution
        python scripts/timings.py --labs                # every solution and every lab
        python scripts/timings.py solutions/lab05_privacy_membership_dp.ipynb
        python scripts/timings.py --dry-run ...         # print the table, do not write the page

The budget (design §5) is 60 s of wall time per notebook on a 2-core CPU. Wall time on a busy
machine is inflated; the CPU time of the kernel process is printed beside it for that reason.
"""

import argparse
import datetime
import os
import pathlib
import platform
import sys
import time
from dataclasses import dataclass

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

try:
    import resource  # Unix only: the CPU time of finished child processes (the kernels)
except ImportError:  # Windows
    resource = None

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGE = ROOT / "book" / "appendix_exec_stats.md"
START, END = "<!-- timings:start -->", "<!-- timings:end -->"
BUDGET_S = 60.0


@dataclass
class Timing:
    """One measured notebook: its path relative to the repository, seconds, and whether it ran."""

    notebook: str
    wall_s: float
    cpu_s: float | None = None
    ok: bool = True


def _children_cpu_s():
    if resource is None:
        return 0.0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_notebook(path, timeout=600):
    """Execute an in-memory copy of the notebook at ``path`` on a fresh kernel; return a Timing.

    The kernel runs in the notebook's folder (so the setup cell finds ``utils``); the wall time
    includes starting and stopping the kernel. ``cpu_s`` is the user + system CPU time of the
    kernel process (``None`` if the platform cannot report it). A cell that raises an error not
    expected by its ``raises-exception`` tag, a cell timeout or a dead kernel makes ``ok`` False;
    the file is never written.
    """
    path = pathlib.Path(path).resolve()
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    cpu_before = _children_cpu_s()
    start = time.perf_counter()
    ok = True
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError):
        ok = False
    wall = time.perf_counter() - start
    cpu = _children_cpu_s() - cpu_before
    try:
        name = path.relative_to(ROOT).as_posix()
    except ValueError:
        name = path.name
    return Timing(name, wall, cpu if cpu > 0 else None, ok)


def machine_description():
    """A short description of this machine: OS, architecture, CPU cores, Python, load average."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not available on macOS / Windows
        cores = os.cpu_count() or 0
    text = (f"{platform.system()} {platform.machine()}, {cores} CPU core{'s' if cores != 1 else ''}, "
            f"Python {platform.python_version()}")
    if hasattr(os, "getloadavg"):
        text += f", load average {os.getloadavg()[0]:.1f} at the start"
    return text


def format_table(timings, *, date, machine, budget=BUDGET_S):
    """The Markdown block written between the markers (a pure function of its arguments).

    Args:
        timings: list of :class:`Timing`, in the order they should appear.
        date: the measurement date, e.g. ``"2026-01-31"``.
        machine: the text of :func:`machine_description`.
        budget: the wall-time budget per notebook in seconds.

    Returns:
        Markdown text: one sentence with the date and machine, then a table with the columns
        notebook, wall time (s), CPU time (s), budget (s) and within budget (✔ / ✘). A notebook
        that failed to run gets ✘ and "error" in place of a verdict.
    """
    if not timings:
        raise ValueError("format_table needs at least one Timing (nothing was measured)")
    if budget <= 0:
        raise ValueError(f"budget must be a positive number of seconds, got {budget!r}")
    over = sum(1 for t in timings if not t.ok or t.wall_s > budget)
    lines = [
        f"Measured on {date} on {machine}: {len(timings)} notebook{'s' if len(timings) != 1 else ''}, "
        f"each run once on a fresh kernel (kernel start included), one after another. "
        f"{len(timings) - over} of {len(timings)} within the {budget:g} s budget.",
        "",
        "| notebook | wall time (s) | CPU time (s) | budget (s) | within budget |",
        "|---|---:|---:|---:|:---:|",
    ]
    for t in timings:
        cpu = "–" if t.cpu_s is None else f"{t.cpu_s:.1f}"
        verdict = "✘ (error)" if not t.ok else ("✔" if t.wall_s <= budget else "✘")
        lines.append(f"| `{t.notebook}` | {t.wall_s:.1f} | {cpu} | {budget:g} | {verdict} |")
    return "\n".join(lines)


def replace_between_markers(text, block, start=START, end=END):
    """Return ``text`` with everything between the two marker lines replaced by ``block``.

    The markers themselves are kept. Raises ValueError if a marker is missing, appears more than
    once, or if the end marker comes before the start marker.
    """
    for marker in (start, end):
        count = text.count(marker)
        if count != 1:
            raise ValueError(f"expected the marker {marker!r} exactly once in the page, "
                             f"found it {count} times")
    head, rest = text.split(start)
    if end not in rest:
        raise ValueError(f"the end marker {end!r} must come after the start marker {start!r}")
    _, tail = rest.split(end)
    return f"{head}{start}\n{block.strip()}\n{end}{tail}"


def _notebooks(args):
    if args.notebooks:
        return [p.resolve() for p in args.notebooks]
    paths = sorted((ROOT / "solutions").glob("*.ipynb"))
    if args.labs:
        paths += sorted((ROOT / "labs").glob("*.ipynb"))
    return paths


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=pathlib.Path,
                        help="notebooks to time (default: every solution)")
    parser.add_argument("--labs", action="store_true",
                        help="also time every lab (when no notebooks are named)")
    parser.add_argument("--page", type=pathlib.Path, default=PAGE, help="the page whose table is rewritten")
    parser.add_argument("--budget", type=float, default=BUDGET_S, help="wall-time budget in seconds")
    parser.add_argument("--timeout", type=int, default=600, help="per-cell timeout in seconds")
    parser.add_argument("--dry-run", action="store_true", help="print the table, do not write the page")
    args = parser.parse_args(argv)

    machine = machine_description()
    date = datetime.date.today().isoformat()
    timings = []
    for path in _notebooks(args):
        timing = time_notebook(path, timeout=args.timeout)
        cpu = "" if timing.cpu_s is None else f", CPU {timing.cpu_s:.1f} s"
        print(f"{timing.notebook}: {timing.wall_s:.1f} s{cpu}{'' if timing.ok else ' (error)'}", flush=True)
        timings.append(timing)

    block = format_table(timings, date=date, machine=machine, budget=args.budget)
    if args.dry_run:
        print(block)
    else:
        page = args.page.resolve()
        page.write_text(replace_between_markers(page.read_text(encoding="utf-8"), block), encoding="utf-8")
        print(f"wrote the table to {page}")
    return 0 if all(t.ok and t.wall_s <= args.budget for t in timings) else 1


if __name__ == "__main__":
    sys.exit(main())
