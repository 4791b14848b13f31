#!/usr/bin/env python
"""Grade a folder of submitted lab notebooks: execute each on a fresh kernel, write one CSV row each.

Each notebook is executed as an in-memory copy (the submission is never modified), on a fresh
``python3`` kernel, with errors allowed so that one broken cell does not hide the rest. From the
outputs the script reads the signals the labs print in fixed formats (``utils/checks/_core.py``):

* every self-check (``check.exercise_N_M(...)``): ``passed``, ``failed (k)``, ``not done`` or ``error``;
* whether the lab then ran the student's own function (``check.use``: "runs YOUR ...");
* the verdict lines (``✔`` / ``✘ NOT MET``, ``✘ 未达标``) of the ``# NBVAL_CHECK_OUTPUT`` cells;
* the closing challenge's score (``check.challenge``: "🏁 Challenge score ...");
* unexpected errors: cells not tagged ``raises-exception`` that raised.

The kernel runs in the notebook's folder, and the course root is put on ``PYTHONPATH`` so that
``import utils`` works wherever the submissions are.

Usage:  python scripts/grade.py submissions/                 # every .ipynb in the folder
        python scripts/grade.py labs/ --out grades.csv
        python scripts/grade.py alice_lab01.ipynb bob_lab01.ipynb
"""

import argparse
import csv
import os
import pathlib
import re
import sys
import time

import nbformat
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parent.parent
SELF_CHECK = re.compile(r"check\.exercise_(\d+)_(\d+)\(")
# The lines are read in English and in Chinese (the labs in labs/zh/: utils.set_language("zh_CN"); the
# Chinese wording is that of locales/zh_CN/LC_MESSAGES/code/utils.po, and tests/test_grade.py checks that
# these patterns read it).
EXERCISE = r"(?:Exercise|练习) (\d+\.\d+)"
SUMMARY = re.compile(rf"→ {EXERCISE}[^:：]*[:：] ?"
                     r"(?:(all checks passed|全部检查通过)|(?:上面有 )?(\d+) (?:problem|个问题))")
NOT_DONE = re.compile(rf"⏳ {EXERCISE}")
USES_YOURS = re.compile(rf"→ {EXERCISE}[:：] ?"
                        r"(?:the rest of the lab runs YOUR|实验的其余部分将运行你自己的)")
CHALLENGE = re.compile(r"🏁 (?:Challenge score \((higher|lower) is better\)|挑战得分（(越高|越低)越好）)"
                       r"[:：] ?([-+0-9.eE]+)([^—]*)— (.+)")
BETTER = {"higher": "higher", "lower": "lower", "越高": "higher", "越低": "lower"}
NOT_MET = ("✘ NOT MET: ", "✘ 未达标： ")
FIXED_COLUMNS = ["notebook", "lab", "exercises_passed", "exercises_total", "student_code_used",
                 "verdicts_met", "verdicts_total", "verdicts_not_met", "challenge", "challenge_score",
                 "challenge_better", "errors", "seconds"]


def _without_prefix(text, prefixes):
    for prefix in prefixes:
        text = text.removeprefix(prefix)
    return text


def _stream_text(cell):
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


def _error_text(cell):
    return "; ".join(f"{o.get('ename')}: {str(o.get('evalue'))[:120]}"
                     for o in cell.get("outputs", []) if o.get("output_type") == "error")


def execute(path, timeout=600):
    """An executed in-memory copy of the notebook at ``path`` and the seconds it took."""
    path = pathlib.Path(path).resolve()
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    return notebook, time.perf_counter() - start


def exercise_status(cell):
    """The status of the self-check in ``cell``: passed / failed (k) / not done / error."""
    if _error_text(cell):
        return "error"
    text = _stream_text(cell)
    if NOT_DONE.search(text):
        return "not done"
    summary = SUMMARY.search(text)
    if not summary:
        return "error"
    return "passed" if summary.group(2) else f"failed ({summary.group(3)})"


def summarise(notebook, name):
    """One CSV row (a dict) from an executed ``notebook``; ``name`` is its file name."""
    row = {"notebook": name, "lab": "", "challenge": "", "challenge_score": "", "challenge_better": ""}
    exercises, verdicts, errors, used = {}, [], [], set()
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        text = _stream_text(cell)
        call = SELF_CHECK.search(cell.source)
        if call:
            exercises[f"{call.group(1)}.{call.group(2)}"] = exercise_status(cell)
            row["lab"] = row["lab"] or f"{int(call.group(1)):02d}"
        used.update(USES_YOURS.findall(text))
        if "NBVAL_CHECK_OUTPUT" in cell.source:
            verdicts += [line for line in text.splitlines() if line.startswith(("✔", "✘"))]
        challenge = CHALLENGE.search(text)
        if challenge:
            row.update(challenge=challenge.group(5).strip(), challenge_score=challenge.group(3),
                       challenge_better=BETTER[challenge.group(1) or challenge.group(2)])
        error = _error_text(cell)
        if error and "raises-exception" not in cell.metadata.get("tags", []):
            errors.append(f"cell {index}: {error}")
    row.update({f"exercise {label}": status for label, status in exercises.items()})
    not_met = [_without_prefix(v, NOT_MET) for v in verdicts if v.startswith("✘")]
    row.update(exercises_passed=sum(s == "passed" for s in exercises.values()),
               exercises_total=len(exercises), student_code_used=" ".join(sorted(used)),
               verdicts_met=sum(v.startswith("✔") for v in verdicts), verdicts_total=len(verdicts),
               verdicts_not_met=" | ".join(not_met), errors=" | ".join(errors))
    return row


def _label_key(column):
    major, minor = column.removeprefix("exercise ").split(".")
    return int(major), int(minor)


def columns(rows):
    """The CSV header: the fixed columns, then one ``exercise N.M`` column per exercise seen."""
    exercise_columns = sorted({c for row in rows for c in row if c.startswith("exercise ")}, key=_label_key)
    return FIXED_COLUMNS[:4] + exercise_columns + FIXED_COLUMNS[4:]


def write_csv(rows, out):
    with open(out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns(rows), restval="")
        writer.writeheader()
        writer.writerows(rows)


def notebooks(arguments):
    """The notebooks named on the command line; a folder stands for every ``*.ipynb`` in it."""
    paths = []
    for argument in map(pathlib.Path, arguments):
        if argument.is_dir():
            paths += sorted(argument.glob("*.ipynb"))
        elif argument.suffix == ".ipynb" and argument.is_file():
            paths.append(argument)
        else:
            raise SystemExit(f"not a notebook or a folder of notebooks: {argument}")
    if not paths:
        raise SystemExit(f"no .ipynb files in {', '.join(arguments)}")
    return paths


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("submissions", nargs="+", help="notebooks, or folders of notebooks")
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("grades.csv"),
                        help="the CSV to write")
    parser.add_argument("--timeout", type=int, default=600, help="per-cell timeout in seconds")
    args = parser.parse_args(argv)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    rows = []
    for path in notebooks(args.submissions):
        notebook, seconds = execute(path, timeout=args.timeout)
        row = summarise(notebook, path.name)
        row["seconds"] = f"{seconds:.0f}"
        print(f"{path.name}: {row['exercises_passed']}/{row['exercises_total']} exercises passed, "
              f"{row['verdicts_met']}/{row['verdicts_total']} verdicts met, challenge "
              f"{row['challenge_score'] or '–'}, {len(row['errors'].split(' | ')) if row['errors'] else 0} "
              f"error(s), {seconds:.0f} s", flush=True)
        rows.append(row)
    write_csv(rows, args.out)
    print(f"wrote {args.out} ({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
