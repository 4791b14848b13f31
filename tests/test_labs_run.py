"""The blank labs run as a student runs them, and a student's finished code drives each lab.

1. Every lab in ``labs/`` (no stored outputs) is executed top to bottom on a fresh kernel, with its
   exercises unfinished: the lab falls back to the reference implementations in ``utils`` and must
   print the same verdict lines as the solution notebook stores. (The solutions themselves, i.e.
   the labs with every exercise done, are executed by nbval and must print only ``✔``.)
2. Every Chinese lab in ``labs/zh/`` runs the same way and prints the same verdicts, ✔ for ✔ and ✘
   for ✘, in Chinese (``LANGUAGE = "zh_CN"``: the verdict texts of its code and ``utils``'s messages).
3. For every lab, ``tests/weak_code/labNN.py`` holds a deliberately weak implementation of one
   core exercise. It is pasted into the solution in place of the model answer and accepted as if its
   self-check had passed; the lab must then print ``✘ NOT MET`` on the verdict it names. This shows
   that the lab's results come from the student's function, not from ``utils``.
"""

import importlib.util
import pathlib
import re

import nbformat
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
WEAK_DIR = pathlib.Path(__file__).parent / "weak_code"
WEAK = sorted(WEAK_DIR.glob("lab*.py"))
CELL_TIMEOUT_S = 600


def _verdict_lines(notebook):
    """The ✔ / ✘ lines printed by the verdict cells (``# NBVAL_CHECK_OUTPUT``), in order."""
    lines = []
    for cell in notebook.cells:
        if cell.cell_type == "code" and "NBVAL_CHECK_OUTPUT" in cell.source:
            text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
            lines += [line for line in text.splitlines() if line.strip()]
    return lines


def _client(notebook, folder):
    return NotebookClient(notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                          resources={"metadata": {"path": str(folder)}})


def run_until(notebook, folder, stop=lambda cell: False):
    """Execute ``notebook`` in place, cell by cell, until ``stop(cell)`` is true after a cell ran.

    Cells tagged ``raises-exception`` may raise (nbclient honours the tag); any other error fails.
    """
    client = _client(notebook, folder)
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)
            if stop(cell):
                return cell
    return None


def blank_lab_prints_the_solutions_verdicts(name):
    solution = nbformat.read(ROOT / "solutions" / name, as_version=4)
    lab = nbformat.read(ROOT / "labs" / name, as_version=4)
    run_until(lab, ROOT / "labs")
    expected, measured = _verdict_lines(solution), _verdict_lines(lab)
    assert expected, f"solutions/{name} stores no verdict lines"
    assert measured == expected, (
        f"the blank lab labs/{name} (exercises unfinished, reference code from utils) printed other "
        f"verdicts than the solution:\n  lab:      {measured}\n  solution: {expected}")


CHINESE = re.compile(r"[\u4e00-\u9fff]")


def chinese_lab_prints_the_solutions_verdicts_in_chinese(name):
    solution = nbformat.read(ROOT / "solutions" / name, as_version=4)
    folder = ROOT / "labs" / "zh"
    lab = nbformat.read(folder / name, as_version=4)
    run_until(lab, folder)
    expected, measured = _verdict_lines(solution), _verdict_lines(lab)
    marks = [line.split()[0] for line in expected]
    assert [line.split()[0] for line in measured] == marks, (
        f"the Chinese lab labs/zh/{name} printed other verdicts than the solution:\n"
        f"  lab:      {measured}\n  solution: {expected}")
    english = [line for line in measured if not CHINESE.search(line)]
    assert not english, f"labs/zh/{name} printed verdict lines that are not in Chinese: {english}"


def load_weak_code(path):
    """The spec in ``tests/weak_code/labNN.py``: LAB, EXERCISE, FUNCTION, SOURCE, TURNS."""
    spec = importlib.util.spec_from_file_location(f"weak_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in ("LAB", "EXERCISE", "FUNCTION", "SOURCE", "TURNS"):
        assert hasattr(module, name), f"{path.name} must define {name}"
    return module


def inject(solution, weak):
    """A copy of ``solution`` with the weak ``FUNCTION`` in place of the model answer, accepted."""
    notebook = nbformat.from_dict(solution)
    cells = notebook.cells
    definition = [i for i, c in enumerate(cells)
                  if c.cell_type == "code" and re.search(rf"^def {weak.FUNCTION}\(", c.source, re.M)]
    assert len(definition) == 1, f"expected one cell defining {weak.FUNCTION}, found {definition}"
    cells[definition[0]].source = weak.SOURCE
    call = f"check.exercise_{weak.EXERCISE.replace('.', '_')}("
    checks = [i for i, c in enumerate(cells) if i > definition[0] and call in c.source]
    assert checks, f"no self-check cell calling {call}…) after the definition of {weak.FUNCTION}"
    accept = nbformat.v4.new_code_cell(f'check.accept("{weak.EXERCISE}", {weak.FUNCTION})')
    cells.insert(checks[0] + 1, accept)
    return notebook


def a_weak_student_implementation_turns_a_verdict_red(path):
    weak = load_weak_code(path)
    solution = nbformat.read(ROOT / "solutions" / weak.LAB, as_version=4)
    expected = _verdict_lines(solution)
    assert f"✔ {weak.TURNS}" in expected, f"solutions/{weak.LAB} has no verdict '✔ {weak.TURNS}'"
    notebook = inject(solution, weak)
    target = f"✘ NOT MET: {weak.TURNS}"
    stopped = run_until(notebook, ROOT / "solutions",
                        stop=lambda cell: target in _verdict_lines(nbformat.v4.new_notebook(cells=[cell])))
    printed = _verdict_lines(notebook)
    assert stopped is not None, (
        f"with the weak {weak.FUNCTION} of Exercise {weak.EXERCISE}, {weak.LAB} never printed "
        f"'{target}'; its verdicts were {printed}. The lab does not use the student's function.")
    uses = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs
                   if o.output_type == "stream")
    assert f"runs YOUR `{weak.FUNCTION}`" in uses, "the lab never said it runs the student's function"


def test_injection_replaces_the_answer_and_accepts_it():
    solution = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION"),
        nbformat.v4.new_code_cell("check.exercise_1_1(f)"),
        nbformat.v4.new_code_cell("g = check.use('1.1', f, reference)"),
    ])

    class Weak:
        EXERCISE, FUNCTION, SOURCE = "1.1", "f", "def f(x):\n    return 0"

    injected = inject(solution, Weak)
    assert [c.source for c in injected.cells] == [
        "def f(x):\n    return 0", "check.exercise_1_1(f)", 'check.accept("1.1", f)',
        "g = check.use('1.1', f, reference)"]
    assert "return x" in solution.cells[0].source, "the solution itself must not change"


def test_every_lab_has_a_weak_implementation_spec():
    labs = {load_weak_code(p).LAB for p in WEAK}
    missing = [p.name for p in SOLUTIONS if p.name not in labs]
    assert not missing, f"no tests/weak_code spec for {missing}"


def _lab_test_class(solution):
    """``TestLabNN``: the blank lab and its weak-student injection, one class per lab.

    ``--dist loadscope`` (in .ci/run) sends each class to one worker, so the labs run in parallel
    while every notebook of nbval stays on one worker.
    """
    weak = WEAK_DIR / f"{solution.stem[:5]}.py"

    def test_blank_lab_prints_the_solutions_verdicts(self):
        blank_lab_prints_the_solutions_verdicts(solution.name)

    def test_chinese_lab_prints_the_solutions_verdicts_in_chinese(self):
        chinese_lab_prints_the_solutions_verdicts_in_chinese(solution.name)

    def test_a_weak_student_implementation_turns_a_verdict_red(self):
        assert weak.exists(), f"no {weak.relative_to(ROOT)}: write the lab's weak-student spec"
        a_weak_student_implementation_turns_a_verdict_red(weak)

    name = f"TestLab{solution.stem[3:5]}"
    return name, type(name, (), {
        "__doc__": f"{solution.name}: blank lab and weak-student injection.",
        "test_blank_lab_prints_the_solutions_verdicts": test_blank_lab_prints_the_solutions_verdicts,
        "test_chinese_lab_prints_the_solutions_verdicts_in_chinese":
            test_chinese_lab_prints_the_solutions_verdicts_in_chinese,
        "test_a_weak_student_implementation_turns_a_verdict_red":
            test_a_weak_student_implementation_turns_a_verdict_red,
    })


globals().update(_lab_test_class(solution) for solution in SOLUTIONS)
