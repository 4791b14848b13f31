"""Checks on the text of the book: no placeholders left in a page, and every citation resolvable.

The book is built with ``-W -n``, which already fails on an unknown ``{cite}`` key in a page that is
in the table of contents. These tests fail earlier and more clearly (file and key named), also cover
the labs and solutions, and catch unfinished pages ("in progress", "TODO", "TBD") that a build accepts.
"""

import json
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
BIB = BOOK / "references.bib"
PAGES = sorted(BOOK.glob("*.md"))
NOTEBOOKS = sorted((ROOT / "solutions").glob("*.ipynb")) + sorted((ROOT / "labs").glob("*.ipynb"))

# Whole words only, so that "progressive", "todos" or "TBDx" do not trip it. "in progress" is matched
# case-insensitively and across a line break; TODO and TBD in any case ("todo" is not an English word
# the book needs).
PLACEHOLDER = re.compile(r"\bin\s+progress\b|\bTODO\b|\bTBD\b", flags=re.IGNORECASE)
# {cite}`a`, {cite:p}`a,b`, {cite:t}`a`, {cite:ps}`a`, {cite:empty}`a`, ...
CITE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]*)`")
BIB_KEY = re.compile(r"^@(\w+)\s*\{\s*([^,\s]+)\s*,", flags=re.MULTILINE)


def placeholders(text):
    """The placeholder phrases in ``text``, as found."""
    return [match.group(0) for match in PLACEHOLDER.finditer(text)]


def cited_keys(text):
    """Every citation key used in ``text`` by a ``{cite}`` role of any style."""
    return {key.strip() for keys in CITE.findall(text) for key in keys.split(",") if key.strip()}


def bib_keys(text=None):
    """The list of entry keys of ``references.bib`` (with repeats, if any)."""
    text = BIB.read_text(encoding="utf-8") if text is None else text
    not_entries = {"comment", "preamble", "string"}
    return [key for kind, key in BIB_KEY.findall(text) if kind.lower() not in not_entries]


def notebook_markdown(path):
    """The markdown cells of a notebook, joined."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def test_the_book_has_pages_and_a_bibliography():
    assert len(PAGES) >= 10
    assert BIB.exists()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_page_has_no_placeholder(page):
    found = placeholders(page.read_text(encoding="utf-8"))
    assert not found, f"{page.name} still says {found}: finish or remove it"


def test_placeholder_check_catches_placeholders_and_nothing_else():
    assert placeholders("Labs 02 and 03 are in progress.") == ["in progress"]
    assert placeholders("still In\nProgress") == ["In\nProgress"]
    assert placeholders("TODO: write this") == ["TODO"]
    assert placeholders("results tbd") == ["tbd"]
    assert placeholders("A progressive schedule; todos; TBDx; in-progress") == []


@pytest.mark.parametrize("path", PAGES + NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_cited_key_is_in_the_bibliography(path):
    text = notebook_markdown(path) if path.suffix == ".ipynb" else path.read_text(encoding="utf-8")
    missing = sorted(cited_keys(text) - set(bib_keys()))
    assert not missing, f"{path.name} cites keys that are not in book/references.bib: {missing}"


def test_cite_parser_reads_every_role_style():
    text = "{cite:p}`a,b` and {cite:t}`c` and {cite}`d` and {cite:ps}` e , f`"
    assert cited_keys(text) == {"a", "b", "c", "d", "e", "f"}


def test_bibliography_keys_are_unique():
    keys = bib_keys()
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    assert not repeated, f"keys defined more than once in references.bib: {repeated}"
    assert len(keys) >= 70


def test_bibliography_parses():
    pybtex = pytest.importorskip("pybtex.database")
    data = pybtex.parse_file(str(BIB))
    assert set(data.entries) == set(bib_keys())


def think_questions_without_answer(text):
    """Line numbers of "**Think.**" paragraphs not followed by an ``Answer`` dropdown admonition."""
    lines = text.splitlines()
    missing = []
    for number, line in enumerate(lines):
        if not line.startswith("**Think.**"):
            continue
        after = number + 1
        while after < len(lines) and lines[after].strip():  # the rest of the question's paragraph
            after += 1
        following = [candidate for candidate in lines[after:after + 3] if candidate.strip()]
        if following[:2] != [":::{admonition} Answer", ":class: dropdown"]:
            missing.append(number + 1)
    return missing


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_think_question_in_a_chapter_has_an_answer(page):
    missing = think_questions_without_answer(page.read_text(encoding="utf-8"))
    assert not missing, (f"{page.name}: Think questions on lines {missing} have no model answer; add "
                         "':::{admonition} Answer' with ':class: dropdown' right after the question")


def test_think_answer_check_sees_a_missing_answer():
    answered = "**Think.** Why?\nReally?\n\n:::{admonition} Answer\n:class: dropdown\n\nBecause.\n:::\n"
    assert think_questions_without_answer(answered) == []
    assert think_questions_without_answer("**Think.** Why?\n\n## Next section\n") == [1]
