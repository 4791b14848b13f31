#!/usr/bin/env python
"""Measure every solution notebook's run time in seconds and in units, and write the table in the book.

Machines of the same kind differ about 2x in speed, so the budget is in **units** (design,
"Budgets"): one unit is the time of a fixed reference workload, the source document's CNN
(``utils.models.seed_cnn``) trained 15 epochs on the embedded digits data at batch 32, about 5 s on
a fast 2-core machine and 11 s on a slow one. The reference is measured in the same run, on a fresh
kernel, right before each notebook and once more at the end (interleaved, at least three times), so a
slow or busy machine slows both alike. A single reference run is noisy (on a quiet 2-core machine it
varied 5-11 s between consecutive runs), so every notebook is divided by the **median** of all the
references of the run, not by the one just before it.

Each notebook is executed once, top to bottom, on a fresh ``python3`` kernel (kernel start
included), exactly as ``scripts/run_solutions.py`` does it, but on an in-memory copy: the notebook
files are never modified. The result replaces the table between ``<!-- timings:start -->`` and
``<!-- timings:end -->`` in ``book/appendix_exec_stats.md``, with the date and the machine.

Usage:  python scripts/timings.py                       # every solution
        python scripts/timings.py --labs                # every solution and every lab
        python scripts/timings.py solutions/lab05_privacy_membership_dp.ipynb
        python scripts/timings.py --dry-run ...         # print the table, do not write the page
        python scripts/timings.py --reference-only      # measure one unit and exit

The budget is 12 units per notebook, kernel start included. No verdict and no test decides on a
wall-clock time; this script is how authors keep the labs short enough for a class.
"""

import argparse
import dataclasses
import datetime
import os
import pathlib
import platform
import re
import statistics
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
BUDGET_UNITS = 12.0
MIN_REFERENCES = 3  # the unit is the median of at least this many reference runs
# The reference workload: one unit. It prints the seconds that the 15 epochs took (model building,
# data loading and kernel start excluded, so that a unit measures training speed only).
REFERENCE_CELLS = [
    "import time\nfrom utils import data, models, training",
    "dataset = data.load_dataset('digits')\nmodel = models.seed_cnn()\ntraining.compile_model(model)",
    "start = time.perf_counter()\n"
    "model.fit(dataset.x_train, dataset.y_train, epochs=15, batch_size=32, verbose=0)\n"
    "print(f'REFERENCE_S={time.perf_counter() - start:.3f}')",
]


@dataclass
class Timing:
    """One measured notebook: its path relative to the repository, seconds, and whether it ran."""

    notebook: str
    wall_s: float
    cpu_s: float | None = None
    ok: bool = True
    unit_s: float | None = None  # seconds of one reference workload (the run's median)

    @property
    def units(self):
        """``wall_s`` in units of the reference workload (None if no reference was measured)."""
        return None if not self.unit_s else self.wall_s / self.unit_s


def _children_cpu_s():
    if resource is None:
        return 0.0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _execute(notebook, folder, timeout):
    """Run ``notebook`` in place on a fresh kernel in ``folder``; return (wall_s, cpu_s, ok)."""
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(folder)}})
    cpu_before = _children_cpu_s()
    start = time.perf_counter()
    ok = True
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError):
        ok = False
    wall = time.perf_counter() - start
    cpu = _children_cpu_s() - cpu_before
    return wall, (cpu if cpu > 0 else None), ok


def time_notebook(path, timeout=600, unit_s=None):
    """Execute an in-memory copy of the notebook at ``path`` on a fresh kernel; return a Timing.

    The kernel runs in the notebook's folder (so the setup cell finds ``utils``); the wall time
    includes starting and stopping the kernel. ``cpu_s`` is the user + system CPU time of the
    kernel process (``None`` if the platform cannot report it). A cell that raises an error not
    expected by its ``raises-exception`` tag, a cell timeout or a dead kernel makes ``ok`` False;
    the file is never written. ``unit_s`` (seconds of one reference workload) is stored with it.
    """
    path = pathlib.Path(path).resolve()
    wall, cpu, ok = _execute(nbformat.read(path, as_version=4), path.parent, timeout)
    try:
        name = path.relative_to(ROOT).as_posix()
    except ValueError:
        name = path.name
    return Timing(name, wall, cpu, ok, unit_s)


def reference_seconds(text):
    """The seconds printed by the reference workload (``REFERENCE_S=…``) in ``text``."""
    match = re.search(r"REFERENCE_S=([0-9.]+)", text)
    if not match:
        raise ValueError("the reference workload printed no REFERENCE_S=… line")
    return float(match.group(1))


def measure_unit(timeout=600):
    """Seconds of one reference workload (seed CNN, 15 epochs, digits, batch 32) on a fresh kernel."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in REFERENCE_CELLS])
    _, _, ok = _execute(notebook, ROOT, timeout)
    text = "".join(o.get("text", "") for c in notebook.cells for o in c.get("outputs", [])
                   if o.get("output_type") == "stream")
    if not ok:
        raise RuntimeError(f"the reference workload failed to run:\n{text}")
    return reference_seconds(text)


def median_unit(references):
    """The unit of a run: the median of its reference measurements (seconds, at least three).

    One reference run can be slowed by a passing background job; the median of several is not.
    """
    references = list(references)
    if len(references) < MIN_REFERENCES:
        raise ValueError(f"need at least {MIN_REFERENCES} reference measurements for a stable unit, "
                         f"got {len(references)}")
    if any(not r > 0 for r in references):
        raise ValueError(f"reference measurements must be positive seconds, got {references}")
    return statistics.median(references)


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


def format_table(timings, *, date, machine, budget=BUDGET_UNITS):
    """The Markdown block written between the markers (a pure function of its arguments).

    Args:
        timings: list of :class:`Timing` with ``unit_s`` set, in the order they should appear.
        date: the measurement date, e.g. ``"2026-01-31"``.
        machine: the text of :func:`machine_description`.
        budget: the budget per notebook in units of the reference workload.

    Returns:
        Markdown text: one sentence with the date, machine and the unit's median seconds, then a
        table with the columns notebook, wall time (s), CPU time (s), unit (s), units, budget
        (units) and within budget (✔ / ✘). A notebook that failed to run gets "✘ (error)".
    """
    if not timings:
        raise ValueError("format_table needs at least one Timing (nothing was measured)")
    if budget <= 0:
        raise ValueError(f"budget must be a positive number of units, got {budget!r}")
    missing = [t.notebook for t in timings if not t.unit_s]
    if missing:
        raise ValueError(f"no reference workload was measured for {missing}: pass unit_s")
    over = sum(1 for t in timings if not t.ok or t.units > budget)
    median_unit = statistics.median(t.unit_s for t in timings)
    lines = [
        f"Measured on {date} on {machine}: {len(timings)} notebook{'s' if len(timings) != 1 else ''}, "
        f"each run once on a fresh kernel (kernel start included), one after another, interleaved with "
        f"the reference workload (1 unit = median {median_unit:.1f} s of the run's reference runs). "
        f"{len(timings) - over} of {len(timings)} within the budget of {budget:g} units.",
        "",
        "| notebook | wall time (s) | CPU time (s) | unit (s) | units | budget (units) | within budget |",
        "|---|---:|---:|---:|---:|---:|:---:|",
    ]
    for t in timings:
        cpu = "–" if t.cpu_s is None else f"{t.cpu_s:.1f}"
        verdict = "✘ (error)" if not t.ok else ("✔" if t.units <= budget else "✘")
        lines.append(f"| `{t.notebook}` | {t.wall_s:.1f} | {cpu} | {t.unit_s:.1f} | {t.units:.1f} "
                     f"| {budget:g} | {verdict} |")
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("notebooks", nargs="*", type=pathlib.Path,
                        help="notebooks to time (default: every solution)")
    parser.add_argument("--labs", action="store_true",
                        help="also time every lab (when no notebooks are named)")
    parser.add_argument("--page", type=pathlib.Path, default=PAGE, help="the page whose table is rewritten")
    parser.add_argument("--budget", type=float, default=BUDGET_UNITS, help="budget in units")
    parser.add_argument("--timeout", type=int, default=600, help="per-cell timeout in seconds")
    parser.add_argument("--dry-run", action="store_true", help="print the table, do not write the page")
    parser.add_argument("--reference-only", action="store_true", help="measure one unit and exit")
    args = parser.parse_args(argv)

    if args.reference_only:
        print(f"1 unit = {measure_unit(args.timeout):.2f} s on {machine_description()}")
        return 0
    machine = machine_description()
    date = datetime.date.today().isoformat()
    references, measured = [], []
    for path in _notebooks(args):
        references.append(measure_unit(args.timeout))
        timing = time_notebook(path, timeout=args.timeout)
        cpu = "" if timing.cpu_s is None else f", CPU {timing.cpu_s:.1f} s"
        print(f"{timing.notebook}: {timing.wall_s:.1f} s{cpu} (reference just before: "
              f"{references[-1]:.1f} s){'' if timing.ok else ' (error)'}", flush=True)
        measured.append(timing)
    while len(references) < MIN_REFERENCES or len(references) == len(measured):
        references.append(measure_unit(args.timeout))  # one after the last notebook, and at least 3
    unit_s = median_unit(references)
    print(f"reference runs (s): {', '.join(f'{r:.1f}' for r in references)}; 1 unit = median = "
          f"{unit_s:.1f} s", flush=True)
    timings = [dataclasses.replace(t, unit_s=unit_s) for t in measured]
    for t in timings:
        print(f"{t.notebook}: {t.units:.1f} units", flush=True)

    block = format_table(timings, date=date, machine=machine, budget=args.budget)
    if args.dry_run:
        print(block)
    else:
        page = args.page.resolve()
        page.write_text(replace_between_markers(page.read_text(encoding="utf-8"), block), encoding="utf-8")
        print(f"wrote the table to {page}")
    return 0 if all(t.ok and t.units <= args.budget for t in timings) else 1


if __name__ == "__main__":
    sys.exit(main())
