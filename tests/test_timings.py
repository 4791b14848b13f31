"""scripts/timings.py: the table-writing part (pure functions; no notebook is executed here)."""

import pytest
import timings
from timings import END, START, Timing, format_table, replace_between_markers

PAGE = f"# Title\n\nintro\n\n{START}\nold table\n{END}\n\nafter\n"


def _rows(text):
    return [line for line in text.splitlines() if line.startswith("| `")]


def test_format_table_has_one_row_per_notebook_and_the_right_verdicts():
    text = format_table([Timing("solutions/a.ipynb", 42.04, 38.5), Timing("solutions/b.ipynb", 61.0, 55.0),
                         Timing("labs/c.ipynb", 10.0, None, ok=False)],
                        date="2026-01-31", machine="Linux x86_64, 2 CPU cores")
    rows = _rows(text)
    assert rows == ["| `solutions/a.ipynb` | 42.0 | 38.5 | 60 | ✔ |",
                    "| `solutions/b.ipynb` | 61.0 | 55.0 | 60 | ✘ |",
                    "| `labs/c.ipynb` | 10.0 | – | 60 | ✘ (error) |"]
    assert "2026-01-31" in text and "2 CPU cores" in text
    assert "1 of 3 within the 60 s budget" in text
    assert "| notebook | wall time (s) | CPU time (s) | budget (s) | within budget |" in text


def test_format_table_budget_is_inclusive_and_configurable():
    assert _rows(format_table([Timing("x.ipynb", 60.0)], date="d", machine="m"))[0].endswith("| ✔ |")
    assert _rows(format_table([Timing("x.ipynb", 60.0)], date="d", machine="m", budget=45))[0].endswith(
        "| 45 | ✘ |")


def test_format_table_rejects_empty_input_and_bad_budget():
    with pytest.raises(ValueError, match="at least one"):
        format_table([], date="d", machine="m")
    with pytest.raises(ValueError, match="budget"):
        format_table([Timing("x.ipynb", 1.0)], date="d", machine="m", budget=0)


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
