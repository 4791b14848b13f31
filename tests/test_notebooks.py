"""Notebook hygiene: labs are generated from solutions, solutions were run top to bottom.

nbval itself (``--nbval-lax`` in pyproject.toml) executes every notebook in solutions/ and
tests/test_labs_run.py every lab in labs/; these tests check what running them does not.
"""

import json
import pathlib
import re

import nbformat
import pytest

import make_labs
from notebook_template import SETUP_CELL

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
LABS = sorted((ROOT / "labs").glob("*.ipynb"))
CHINESE_LABS = sorted((ROOT / make_labs.CHINESE_DIR).glob("*.ipynb"))
ALL = SOLUTIONS + LABS
THINK = re.compile(r"\*\*Think[.:!?]?\*\*")
ANSWER = ":::{admonition} Answer\n:class: dropdown"


def _read(path):
    return nbformat.read(path, as_version=4)


def _code(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def _id(path):
    return f"{path.parent.name}/{path.name}"


def test_there_are_solutions_and_matching_labs():
    assert SOLUTIONS, "no solution notebooks found"
    assert [p.name for p in LABS] == [p.name for p in SOLUTIONS]
    assert [p.name for p in CHINESE_LABS] == [p.name for p in SOLUTIONS], (
        "labs/zh/ must hold the Chinese lab of every solution: run python scripts/make_labs.py")
    for path in SOLUTIONS:
        assert re.fullmatch(r"lab\d\d_[a-z0-9_]+\.ipynb", path.name), path.name


@pytest.fixture(scope="module")
def generated():
    """``(labs, solutions)`` as ``make_labs.py`` generates them, once for every solution's test."""
    return make_labs.generate(ROOT)


@pytest.mark.parametrize("path", SOLUTIONS, ids=_id)
def test_lab_regenerates_identically_from_its_solution(path, generated):
    labs, solutions = generated
    assert path.read_text(encoding="utf-8") == solutions[path], (
        "the solution's badges / setup address are stale: run python scripts/make_labs.py")
    for lab in (ROOT / "labs" / path.name, ROOT / make_labs.CHINESE_DIR / path.name):
        assert lab.read_text(encoding="utf-8") == labs[lab], (
            f"{lab.relative_to(ROOT)} differs from what make_labs.py generates: never edit labs/ by hand; "
            "edit the solution (or the translation in locales/) and run python scripts/make_labs.py")


@pytest.mark.parametrize("path", SOLUTIONS, ids=_id)
def test_solution_was_executed_in_order_on_a_fresh_kernel(path):
    counts = [c.execution_count for c in _code(_read(path))]
    assert counts == list(range(1, len(counts) + 1)), (
        f"execution counts {counts[:8]}…: run python scripts/run_solutions.py {path.name}")


@pytest.mark.parametrize("path", SOLUTIONS, ids=_id)
def test_solution_has_no_unexpected_errors_or_missed_targets(path):
    for cell in _code(_read(path)):
        tags = cell.metadata.get("tags", [])
        for output in cell.outputs:
            if output.output_type == "error":
                assert "raises-exception" in tags, (
                    f"stored {output.ename} in a cell not tagged raises-exception")
            if output.output_type == "stream":
                assert "✘" not in output.text, f"a stored check failed:\n{output.text}"
                assert output.name != "stderr" or "raises-exception" in tags, (
                    f"stderr output stored:\n{output.text[:300]}")


@pytest.mark.parametrize("path", SOLUTIONS, ids=_id)
def test_every_stored_figure_has_alt_text(path):
    """The book shows the solutions' figures; a screen reader needs their alt text."""
    import alt_text

    missing = [i for i, cell in enumerate(_read(path).cells)
               if alt_text.has_figure(cell) and not alt_text.alt_text_of(cell)]
    assert not missing, (f"figure cells {missing} have no alt text: run python scripts/alt_text.py "
                         f"solutions/{path.name}, then read and improve what it wrote")


@pytest.mark.parametrize("path", ALL, ids=_id)
def test_notebook_layout(path):
    """Title + badges, objectives, the canonical setup cell, a parameters cell, verdicts, summary."""
    nb = _read(path)
    title = nb.cells[0]
    assert title.cell_type == "markdown" and title.source.startswith("# Lab ")
    assert "colab-badge.svg" in title.source
    assert "Learning objectives" in nb.cells[1].source and "Time" in nb.cells[1].source
    code = _code(nb)
    url = make_labs.repository_url(ROOT)
    expected_setup = re.sub(r'REPO_URL = "[^"]*"', f'REPO_URL = "{url}.git"', SETUP_CELL)
    assert code[0].source == expected_setup, "the setup cell must be scripts/notebook_template.SETUP_CELL"
    assert any("parameters" in c.metadata.get("tags", []) for c in code), "no cell tagged 'parameters'"
    assert any("NBVAL_CHECK_OUTPUT" in c.source for c in code), "no verdict cell"
    assert "## Summary" in "".join(c.source for c in nb.cells if c.cell_type == "markdown")


@pytest.mark.parametrize("path", SOLUTIONS, ids=_id)
def test_verdict_cells_print_only_verdict_lines(path):
    for cell in _code(_read(path)):
        if "NBVAL_CHECK_OUTPUT" not in cell.source:
            continue
        text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        lines = [line for line in text.splitlines() if line.strip()]
        assert lines, "a verdict cell has no stored output"
        assert all(line.startswith("✔ ") for line in lines), lines
        assert not re.search(r"\d+\.\d{2,}", text), "verdict lines must not contain measured numbers"


@pytest.mark.parametrize("path", LABS, ids=_id)
def test_labs_are_blank_exercises(path):
    nb = _read(path)
    text = json.dumps(nb)
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    assert "NotImplementedError(\\\"Exercise" in text
    for cell in _code(nb):
        assert cell.outputs == [] and cell.execution_count is None, (
            "a blank lab stores no output, not even a verdict: run python scripts/make_labs.py")
    assert "— solution" not in nb.cells[0].source
    answers = [c for c in nb.cells if "answer" in c.metadata.get("tags", []) or ANSWER in c.source]
    assert not answers, "a model answer leaked into the lab: tag its cell 'answer' in the solution"


def _think_cells(nb):
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and THINK.search(c.source)]


@pytest.mark.parametrize("path", SOLUTIONS, ids=_id)
def test_every_think_question_has_a_model_answer(path):
    """Each "**Think.**" cell is followed by a markdown cell tagged ``answer`` (a collapsed block)."""
    nb = _read(path)
    for index in _think_cells(nb):
        following = nb.cells[index + 1] if index + 1 < len(nb.cells) else None
        assert following is not None and "answer" in following.metadata.get("tags", []), (
            f"cell {index} asks a Think question but cell {index + 1} is not its answer: add a markdown "
            "cell tagged 'answer' right after it (see CONTRIBUTING.md, 'Think questions')")
        assert following.source.startswith(ANSWER) and "Think" not in following.source, (
            f"the answer to cell {index} must start with {ANSWER!r} (a dropdown in the book) and hold "
            "no further Think question")
        body = following.source.split("\n", 2)[-1]
        assert len(body.split()) >= 15, f"the answer to cell {index} is too short to teach anything"


def test_answer_cells_are_dropped_from_the_lab():
    solution = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("**Think.** Why?"),
        nbformat.v4.new_markdown_cell(ANSWER + "\n\nBecause.\n:::"),
        nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint('✔ x')"),
    ])
    solution.cells[1].metadata["tags"] = ["answer"]
    solution.cells[2].outputs = [nbformat.v4.new_output("stream", text="✔ x\n")]
    solution.cells[2].execution_count = 1
    solution.cells.insert(0, nbformat.v4.new_markdown_cell("# Lab 99 · x — solution\n\nbadge"))
    lab = make_labs.make_lab(solution, "https://github.com/a/b", "lab99_x.ipynb")
    assert [c.source for c in lab.cells][1:] == ["**Think.** Why?", "# NBVAL_CHECK_OUTPUT\nprint('✔ x')"]
    assert lab.cells[2].outputs == [] and lab.cells[2].execution_count is None


def test_stub_keeps_indentation_and_tags_top_level_blocks():
    source = ('def f():\n    """Exercise 2.3 — do it."""\n'
              "    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n")
    stubbed, top = make_labs.stub_solutions(source)
    assert '    raise NotImplementedError("Exercise 2.3: replace this line with your code")' in stubbed
    assert "return 1" not in stubbed and not top
    _, top = make_labs.stub_solutions("# Exercise 1.4\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n")
    assert top


def test_unbalanced_solution_markers_are_errors():
    with pytest.raises(ValueError, match="without"):
        make_labs.stub_solutions("### BEGIN SOLUTION\nx = 1\n")
    with pytest.raises(ValueError, match="without"):
        make_labs.stub_solutions("x = 1\n### END SOLUTION\n")


def test_badges_point_to_the_configured_repository():
    url = make_labs.repository_url(ROOT)
    lab = make_labs.badges(url, "lab01_x.ipynb", "lab")
    repo = url.split("github.com/")[1]
    assert f"colab.research.google.com/github/{repo}/blob/main/labs/lab01_x.ipynb" in lab
    assert "/solutions/lab01_x.ipynb" in lab


def test_challenge_entries_are_deleted_not_stubbed():
    source = ("entry = dict(sparsity=0.8)  # baseline\n### BEGIN CHALLENGE ENTRY\n"
              "entry = dict(sparsity=0.93)\n### END CHALLENGE ENTRY\nscore(entry)")
    assert make_labs.drop_challenge_entries(source) == "entry = dict(sparsity=0.8)  # baseline\nscore(entry)"
    with pytest.raises(ValueError, match="without"):
        make_labs.drop_challenge_entries("### BEGIN CHALLENGE ENTRY\nx = 1")
