"""scripts/grade.py: one CSV row per submitted notebook, from a fresh execution that changes nothing."""

import csv

import grade
import nbformat
import pytest

from utils import i18n

SETUP = "from utils import checks as check, pruning\nimport numpy as np"
FINISHED = '''def magnitude_mask(weights, sparsity):
    """Exercise 1.1 — keep-mask."""
    w = np.asarray(weights)
    keep = np.ones(w.size, dtype=bool)
    keep[np.argsort(np.abs(w).ravel(), kind="stable")[: int(round(sparsity * w.size))]] = False
    return keep.reshape(w.shape)'''
BLANK = '''def magnitude_mask(weights, sparsity):
    """Exercise 1.1 — keep-mask."""
    raise NotImplementedError("Exercise 1.1: replace this line with your code")'''
REST = [
    "check.exercise_1_1(magnitude_mask)",
    'mask_fn = check.use("1.1", magnitude_mask, pruning.magnitude_mask)',
    '# NBVAL_CHECK_OUTPUT\ncheck.verdict(int(mask_fn(np.arange(10.0), 0.3).sum()) == 7, "keeps 7 of 10")\n'
    'check.verdict(False, "a target nobody meets")',
    'check.challenge("highest sparsity at ≤ 1 pt drop", 0.93)',
]


def _notebook(folder, name, exercise, extra=()):
    cells = [nbformat.v4.new_code_cell(source) for source in (SETUP, exercise, *REST, *extra)]
    path = folder / name
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    return path


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("submissions")
    finished = _notebook(folder, "alice_lab01.ipynb", FINISHED)
    blank = _notebook(folder, "bob_lab01.ipynb", BLANK, extra=["1 / 0"])
    before = {p: p.read_bytes() for p in (finished, blank)}
    out = folder / "grades.csv"
    assert grade.main([str(folder), "--out", str(out), "--timeout", "120"]) == 0
    with open(out, encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = {row["notebook"]: row for row in reader}
        header = reader.fieldnames
    return header, rows, before


def test_the_csv_has_the_documented_columns(graded):
    header, rows, _ = graded
    assert header == ["notebook", "lab", "exercises_passed", "exercises_total", "exercise 1.1",
                      "student_code_used", "verdicts_met", "verdicts_total", "verdicts_not_met", "challenge",
                      "challenge_score", "challenge_better", "errors", "seconds"]
    assert set(rows) == {"alice_lab01.ipynb", "bob_lab01.ipynb"}


def test_a_finished_notebook_passes_and_drives_the_lab(graded):
    _, rows, _ = graded
    alice = rows["alice_lab01.ipynb"]
    assert (alice["lab"], alice["exercise 1.1"], alice["exercises_passed"]) == ("01", "passed", "1")
    assert alice["student_code_used"] == "1.1"
    assert (alice["verdicts_met"], alice["verdicts_total"]) == ("1", "2")
    assert alice["verdicts_not_met"] == "a target nobody meets"
    assert (alice["challenge_score"], alice["challenge_better"]) == ("0.93", "higher")
    assert alice["challenge"] == "highest sparsity at ≤ 1 pt drop"
    assert alice["errors"] == ""


def test_a_blank_notebook_is_not_done_and_its_error_is_listed(graded):
    _, rows, _ = graded
    bob = rows["bob_lab01.ipynb"]
    assert (bob["exercise 1.1"], bob["exercises_passed"], bob["student_code_used"]) == ("not done", "0", "")
    assert bob["verdicts_met"] == "1", "the blank lab falls back to the reference and still meets its target"
    assert bob["errors"].startswith("cell 6: ZeroDivisionError")


def test_submissions_are_never_modified(graded):
    _, _, before = graded
    assert all(path.read_bytes() == content for path, content in before.items())


def test_a_failed_self_check_counts_its_problems():
    cell = nbformat.v4.new_code_cell("check.exercise_1_1(f)")
    text = "✘ a\n✘ b\n→ Exercise 1.1 (x): 2 problem(s) above\n"
    cell.outputs = [nbformat.v4.new_output("stream", text=text)]
    assert grade.exercise_status(cell) == "failed (2)"


@pytest.mark.parametrize("language", ["en", "zh_CN"])
def test_the_lines_of_a_lab_are_read_in_both_languages(language):
    """The Chinese labs print these lines through utils.i18n: grade.py must read both wordings."""
    say = lambda message: i18n.text(message, language)  # noqa: E731
    passed = grade.SUMMARY.search(say("→ Exercise 1.1 (magnitude_mask): all checks passed. Well done!"))
    assert passed.group(2)
    failed = grade.SUMMARY.search(say("→ Exercise 1.1 (magnitude_mask): 2 problem(s) above; fix them and run "
                                      "this cell again."))
    assert failed.group(1) == "1.1" and failed.group(3) == "2"
    assert grade.NOT_DONE.search(say(
        "⏳ Exercise 2.3 (remove_filters): not done yet — replace the `raise NotImplementedError(...)` line "
        "with your code, run that cell, then this one. The lab continues with the reference implementation "
        "from `utils`."))
    assert grade.USES_YOURS.search(say("→ Exercise 1.3: the rest of the lab runs YOUR `fine_tune_masked`."))
    challenge = grade.CHALLENGE.search(say("🏁 Challenge score (lower is better): 0.25 pt — smallest drop"))
    assert grade.BETTER[challenge.group(1) or challenge.group(2)] == "lower" and challenge.group(3) == "0.25"
    assert grade._without_prefix(say("✘ NOT MET: ") + "target", grade.NOT_MET) == "target"


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(SystemExit, match="not a notebook"):
        grade.notebooks([str(tmp_path / "missing.txt")])
    with pytest.raises(SystemExit, match="no .ipynb"):
        grade.notebooks([str(tmp_path)])
