"""scripts/timings.py: the table-writing part (pure functions; no notebook is executed here)."""

import pytest
import timings
from timings import END, START, Timing, format_table, replace_between_markers

PAGE = f"# Title\n\nintro\n\n{START}\nold table\n{END}\n\nafter\n"


def _rows(text):
    return [line for line in text.splitlines() if line.startswith("| `")]


def test_format_table_reports_seconds_and_units_with_the_right_verdicts():
    text = format_table([Timing("solutions/a.ipynb", 42.04, 38.5, unit_s=7.0),
                         Timing("solutions/b.ipynb", 99.0, 90.0, unit_s=8.0),
                         Timing("labs/c.ipynb", 10.0, None, ok=False, unit_s=9.0)],
                        date="2026-01-31", machine="Linux x86_64, 2 CPU cores")
    rows = _rows(text)
    assert rows == ["| `solutions/a.ipynb` | 42.0 | 38.5 | 7.0 | 6.0 | 12 | ✔ |",
                    "| `solutions/b.ipynb` | 99.0 | 90.0 | 8.0 | 12.4 | 12 | ✘ |",
                    "| `labs/c.ipynb` | 10.0 | – | 9.0 | 1.1 | 12 | ✘ (error) |"]
    assert "2026-01-31" in text and "2 CPU cores" in text and "median 8.0 s" in text
    assert "1 of 3 within the budget of 12 units" in text


def test_units_are_relative_to_the_reference_measured_with_the_notebook():
    # the same notebook on a machine twice as slow: twice the seconds, the same units
    fast, slow = Timing("x.ipynb", 50.0, unit_s=5.0), Timing("x.ipynb", 100.0, unit_s=10.0)
    assert fast.units == slow.units == 10.0
    assert Timing("x.ipynb", 50.0).units is None


def test_format_table_budget_is_inclusive_and_configurable():
    at_budget = Timing("x.ipynb", 60.0, unit_s=5.0)
    assert _rows(format_table([at_budget], date="d", machine="m"))[0].endswith("| ✔ |")
    assert _rows(format_table([at_budget], date="d", machine="m", budget=10))[0].endswith("| 10 | ✘ |")


def test_format_table_rejects_empty_input_bad_budget_and_missing_units():
    with pytest.raises(ValueError, match="at least one"):
        format_table([], date="d", machine="m")
    with pytest.raises(ValueError, match="budget"):
        format_table([Timing("x.ipynb", 1.0, unit_s=1.0)], date="d", machine="m", budget=0)
    with pytest.raises(ValueError, match="reference workload"):
        format_table([Timing("x.ipynb", 1.0)], date="d", machine="m")


def test_reference_seconds_are_read_from_the_workloads_output():
    assert timings.reference_seconds("noise\nREFERENCE_S=7.812\n") == 7.812
    with pytest.raises(ValueError, match="REFERENCE_S"):
        timings.reference_seconds("the kernel died")


def test_the_reference_workload_is_the_seed_cnn_for_15_epochs_on_digits_at_batch_32():
    code = "\n".join(timings.REFERENCE_CELLS)
    for part in ("models.seed_cnn()", "load_dataset('digits')", "epochs=15", "batch_size=32"):
        assert part in code


def test_replace_between_markers_keeps_everything_outside():
    new = replace_between_markers(PAGE, "| new |\n")
    assert new == f"# Title\n\nintro\n\n{START}\n| new |\n{END}\n\nafter\n"
    assert replace_between_markers(new, "| newer |") == new.replace("| new |", "| newer |")


@pytest.mark.parametrize("page, message", [
    ("no markers at all", "exactly once"),
    (f"{START}\n{START}\n{END}", "exactly once"),
    (f"{END}\ntable\n{START}\n", "must come after"),
])
def test_replace_between_markers_rejects_broken_pages(page, message):
    with pytest.raises(ValueError, match=message):
        replace_between_markers(page, "| x |")


def test_the_book_page_has_the_markers_once():
    text = timings.PAGE.read_text(encoding="utf-8")
    assert text.count(START) == 1 and text.count(END) == 1 and text.index(START) < text.index(END)
    assert "{nb-exec-table}" in text


def test_machine_description_names_the_cores():
    assert "CPU core" in timings.machine_description()


def test_the_unit_is_the_median_of_at_least_three_reference_runs():
    from timings import median_unit
    # one reference slowed by a background job does not move the unit
    assert median_unit([5.0, 11.4, 5.2]) == 5.2
    assert median_unit([6.0, 5.0, 7.0, 30.0]) == 6.5
    with pytest.raises(ValueError, match="at least 3 reference"):
        median_unit([5.0, 6.0])
    with pytest.raises(ValueError, match="positive seconds"):
        median_unit([5.0, 0.0, 6.0])
