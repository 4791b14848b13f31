#!/usr/bin/env python
"""Give every figure of a solution notebook alt text, for readers who use a screen reader.

The book shows a solution's stored figures; MyST-NB takes their alt text from the code cell's
metadata ``{"mystnb": {"image": {"alt": "..."}}}``. Every figure in the course is followed by a
markdown cell that starts with ``*Takeaway:*``, so this script writes

    alt = "<the figure's title>: <the takeaway sentence(s)>"

into each figure cell that has no alt text yet (the title is the first plain string literal passed
as ``title=`` / ``set_title(`` / ``suptitle(`` in the cell, if any). Cells that already have alt text
are left alone, so an author can write a better one by hand. Only metadata changes: outputs and
execution counts stay as they are. ``tests/test_notebooks.py`` checks that no figure lacks alt text.

    python scripts/alt_text.py solutions/*.ipynb && python scripts/make_labs.py
"""

import argparse
import pathlib
import re
import sys

import nbformat

_TITLE = re.compile(r"""(?:title=|set_title\(|suptitle\()\s*["']([^"'{}]+)["']""")
_MARKUP = re.compile(r"[*`$\\]")


def has_figure(cell):
    """Whether a code cell stored at least one PNG or SVG image output."""
    return cell.cell_type == "code" and any(
        {"image/png", "image/svg+xml"} & set(output.get("data", {})) for output in cell.get("outputs", []))


def alt_text_of(cell):
    """The alt text stored in a cell's metadata, or ``None``."""
    return cell.metadata.get("mystnb", {}).get("image", {}).get("alt")


def _plain(markdown):
    """The first paragraph of some markdown, made plain: no headings, emphasis, code or maths markers."""
    paragraphs = [p for p in markdown.split("\n\n") if p.strip() and not p.lstrip().startswith("#")]
    return " ".join(_MARKUP.sub("", paragraphs[0] if paragraphs else "").split())


def _sentences(text, limit=300, at_least=100):
    """Whole sentences of ``text``: as many as fit in ``limit`` characters, but ``at_least`` some."""
    sentences = re.split(r"(?<!al\.)(?<!e\.g\.)(?<!i\.e\.)(?<=[.!?])\s+", text)
    kept = sentences[:1]
    for sentence in sentences[1:]:
        if len(" ".join(kept)) >= at_least and len(" ".join(kept + [sentence])) > limit:
            break
        kept.append(sentence)
    return " ".join(kept)


def describe(cells, index):
    """Alt text for the figure cell ``cells[index]``: its title and the takeaway after it."""
    title = _TITLE.search(cells[index].source)
    parts = [title.group(1).rstrip(".")] if title else []
    for following in cells[index + 1:index + 3]:
        if following.cell_type == "markdown" and following.source.lstrip().startswith("*Takeaway:*"):
            parts.append(_sentences(_plain(following.source.split("*Takeaway:*", 1)[1])))
            break
    if not parts:
        previous = [c for c in cells[:index] if c.cell_type == "markdown" and _plain(c.source)]
        parts.append(_sentences(_plain(previous[-1].source), 200) if previous else "A figure of this lab")
    return ": ".join(part.strip() for part in parts if part.strip())


def add_alt_text(path):
    """Fill in missing alt text in the notebook at ``path``; returns the number of cells changed."""
    import make_labs  # beside this script: the exact format the course writes notebooks in

    notebook = nbformat.read(path, as_version=4)
    changed = 0
    for index, cell in enumerate(notebook.cells):
        if has_figure(cell) and not alt_text_of(cell):
            alt = describe(notebook.cells, index)
            cell.metadata.setdefault("mystnb", {}).setdefault("image", {})["alt"] = alt
            changed += 1
    if changed:
        pathlib.Path(path).write_text(make_labs._dump(notebook), encoding="utf-8")
    return changed


def main(argv=None):
    parser = argparse.ArgumentParser(description="Add alt text to the figures of solution notebooks.")
    parser.add_argument("notebooks", nargs="+", type=pathlib.Path)
    args = parser.parse_args(argv)
    for path in args.notebooks:
        print(f"{path}: {add_alt_text(path)} figure(s) given alt text")
    return 0


if __name__ == "__main__":
    sys.exit(main())
