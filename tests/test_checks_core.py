"""utils/checks/_core.py: honest self-checks, the student's code driving the lab, verdicts, challenges."""

import pytest

from utils import checks
from utils.checks import _core


@_core.self_check("Exercise 9.9 (double)")
def _check_double(report, double):
    report.check(double(2) == 4, "double(2) is 4", "double(2) should be 4")


@_core.self_check("Exercise 9.8 (buggy checker)")
def _buggy_checker(report, fn):
    fn(1)
    raise KeyError("a bug in the checker itself")


def _reference(x):
    return 2 * x


def test_a_passing_function_is_recorded_and_used(capsys):
    def double(x):
        return x + x

    _check_double(double)
    assert checks.passed("9.9", double)
    assert checks.use("9.9", double, _reference) is double
    assert "runs YOUR `double`" in capsys.readouterr().out


def test_a_failing_or_redefined_function_falls_back_to_the_reference(capsys):
    def double(x):
        return x + x

    _check_double(double)

    def double(x):  # noqa: F811 — the student edits the cell but does not re-run the self-check
        return 3 * x

    assert checks.use("9.9", double, _reference) is _reference
    _check_double(double)
    assert "✘ double(2) should be 4" in capsys.readouterr().out
    assert not checks.passed("9.9", double)
    assert checks.use("9.9", double, _reference) is _reference
    assert "runs the reference `test_checks_core._reference`" in capsys.readouterr().out


def test_an_unfinished_stub_gets_a_reminder_and_the_reference(capsys):
    def double(x):
        raise NotImplementedError("Exercise 9.9: replace this line with your code")

    assert _check_double(double) is None
    assert "⏳ Exercise 9.9 (double): not done yet" in capsys.readouterr().out
    assert checks.use("9.9", double, _reference) is _reference


def test_only_the_students_exceptions_are_blamed_on_the_student(capsys):
    _check_double(lambda x: 1 / 0)
    assert "✘ your function raised ZeroDivisionError" in capsys.readouterr().out
    with pytest.raises(KeyError, match="a bug in the checker"):
        _buggy_checker(lambda x: x)


def test_accept_marks_a_function_as_passed_for_injection_tests():
    def weak(x):
        return x

    checks.accept("9.7", weak)
    assert checks.use("9.7", weak, _reference) is weak


def test_verdict_and_challenge_lines(capsys):
    checks.verdict(True, "target met")
    checks.verdict(False, "target missed")
    checks.challenge("lowest attack success", 0.125, "%", higher_is_better=False)
    assert capsys.readouterr().out.splitlines() == [
        "✔ target met", "✘ NOT MET: target missed",
        "🏁 Challenge score (lower is better): 0.125 % — lowest attack success"]


def test_a_self_check_title_must_name_its_exercise():
    with pytest.raises(ValueError, match="must name its exercise"):
        _core.self_check("magnitude mask")
