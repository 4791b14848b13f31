"""The machinery shared by every lab's self-checks and verdicts.

* ``self_check(title)`` turns a checking function into a lab's self-check: ``✔`` / ``✘`` lines, a
  reminder for an unfinished stub, and a record of which student functions passed.
* ``use(exercise, student_fn, reference)`` is how a lab lets the student's code drive its results:
  the student's function once its self-check passed, else the tested reference from ``utils``.
* ``verdict(ok, text)`` prints one verdict line; ``challenge(name, score, ...)`` one challenge score.
"""

import functools
import re

from .. import i18n

# Student functions whose self-check passed, by exercise label ("1.1"): filled by ``self_check``.
_PASSED = {}


class StudentError(Exception):
    """An exception raised inside the student's function (not inside the checker)."""

    def __init__(self, error):
        super().__init__(f"{type(error).__name__}: {error}")
        self.error = error


class _NotDone(Exception):
    """The student's function still raises the stub's ``NotImplementedError``."""


def _guarded(student_fn):
    """``student_fn`` wrapped so that its own exceptions are told apart from the checker's."""

    @functools.wraps(student_fn)
    def call(*args, **kwargs):
        try:
            return student_fn(*args, **kwargs)
        except NotImplementedError as error:
            raise _NotDone() from error
        except Exception as error:
            raise StudentError(error) from error

    return call


def exercise_label(title):
    """``"1.1"`` from a self-check title such as ``"Exercise 1.1 (magnitude_mask)"``."""
    match = re.search(r"Exercise (\d+\.\d+)", title)
    if not match:
        raise ValueError(f"a self-check title must name its exercise, e.g. 'Exercise 1.1 (…)'; got {title!r}")
    return match.group(1)


class Report:
    """Collects the findings of one self-check and prints them."""

    def __init__(self, title):
        self.title = title
        self.failures = 0

    def ok(self, message):
        print(f"✔ {i18n.text(message)}")

    def fail(self, message):
        self.failures += 1
        print(f"✘ {i18n.text(message)}")

    def check(self, condition, good, bad):
        (self.ok if condition else self.fail)(good if condition else bad)
        return condition

    def summary(self):
        if self.failures:
            print(i18n.text(f"→ {self.title}: {self.failures} problem(s) above; fix them and run this cell "
                            "again."))
        else:
            print(i18n.text(f"→ {self.title}: all checks passed. Well done!"))
        return self.failures == 0


def verdict(ok, text):
    """Print one verdict line of a lab: ``✔ text`` if the target ``text`` is met, else ``✘ NOT MET: text``.

    Verdict cells compare a lab's measured results with its targets; the tests compare their printed
    lines with the solution's, so ``text`` states the target, not the measured number.
    """
    print(("✔ " if ok else i18n.text("✘ NOT MET: ")) + i18n.text(text))


def challenge(name, score, unit="", *, higher_is_better=True):
    """Print a lab's closing-challenge score in the one format ``scripts/grade.py`` reads.

    Example: ``challenge("highest sparsity at ≤ 1 pt drop", 0.93)`` prints
    ``🏁 Challenge score (higher is better): 0.93 — highest sparsity at ≤ 1 pt drop``.
    """
    direction = "higher is better" if higher_is_better else "lower is better"
    value = f"{float(score):.4g}" + (f" {unit.strip()}" if unit.strip() else "")
    print(i18n.text(f"🏁 Challenge score ({direction}): {value} — {name}"))


def self_check(title):
    """Decorator: a checking function ``check(report, student_fn, *args)`` becomes a lab's self-check.

    Only exceptions raised *inside the student's function* are reported as "your function raised …";
    an exception in the checker itself propagates as an ordinary error (it is a bug to fix in ``utils``).
    A passing check records the student's function, so that ``use`` can run it in the rest of the lab.
    Returns None, so a notebook cell shows only the printed lines.
    """
    label = exercise_label(title)

    def decorate(check):
        @functools.wraps(check)
        def run(student_fn, *args, **kwargs):
            _PASSED.pop(label, None)
            report = Report(title)
            try:
                check(report, _guarded(student_fn), *args, **kwargs)
            except _NotDone:
                print(i18n.text(f"⏳ {title}: not done yet — replace the `raise NotImplementedError(...)` "
                                "line with your code, run that cell, then this one. The lab continues "
                                "with the reference implementation from `utils`."))
                return None
            except StudentError as error:  # the student's code crashed: say where, not a traceback
                report.fail(f"your function raised {error}")
            if report.summary():
                _PASSED[label] = student_fn
            return None

        run.exercise = label
        return run

    return decorate


def passed(exercise, student_fn):
    """True if ``student_fn`` (this very object) passed the self-check of ``exercise`` ("1.1")."""
    return _PASSED.get(exercise) is student_fn


def use(exercise, student_fn, reference):
    """The implementation the rest of the lab runs, and a line saying which one it is.

    Args:
        exercise: the exercise label, e.g. ``"1.1"``.
        student_fn: the student's function of that exercise.
        reference: the tested implementation in ``utils`` with the same signature.

    Returns:
        ``student_fn`` if it passed its self-check (after its last redefinition), else ``reference``.
    """
    if passed(exercise, student_fn):
        print(i18n.text(f"→ Exercise {exercise}: the rest of the lab runs YOUR `{student_fn.__name__}`."))
        return student_fn
    print(i18n.text(f"→ Exercise {exercise} not passed yet: the rest of the lab runs the reference "
                    f"`{reference.__module__}.{reference.__qualname__}`."))
    return reference


def accept(exercise, student_fn):
    """Mark ``student_fn`` as passed without its self-check (for tests that inject a weak version)."""
    _PASSED[exercise] = student_fn
