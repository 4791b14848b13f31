#!/usr/bin/env python
"""Generate the student labs (labs/*.ipynb) from the solution notebooks (solutions/*.ipynb).

Solutions are the single source of every lab. For each solution this script

* replaces every block between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` with
  ``raise NotImplementedError("Exercise N.M: ...")`` at the same indentation;
* tags the cells that now raise at top level ``raises-exception`` (so nbval accepts them);
* deletes every block between ``### BEGIN CHALLENGE ENTRY`` and ``### END CHALLENGE ENTRY`` (the
  solution's entry to the closing challenge; the lab runs the baseline entry written above it);
* drops cells tagged ``solution-only`` and the model answers of the Think questions (markdown
  cells tagged ``answer``, shown in the solution as a collapsed "Answer" block);
* strips every output and execution count, verdict cells included: a student sees no result
  before running the lab. (``tests/test_labs_run.py`` executes each lab and compares its verdict
  lines with the solution's stored ones.)
* rewrites the title (drops " — solution") and the "Open in Colab" badges;
* writes the repository address of ``_config.yml`` into the badges and the setup cell of
  both the solution and the lab, so that it is set in exactly one place;
* writes the Chinese lab (``labs/zh/``) from the same lab: its Markdown cells from the book's message
  catalogue of that lab's page (``locales/zh_CN/LC_MESSAGES/labs/<lab>.po``), the text its code shows
  (docstrings, verdicts, prints, figure labels) from ``locales/zh_CN/LC_MESSAGES/code/labs/<lab>.po``,
  and ``LANGUAGE = "zh_CN"`` in its parameters cell, so that ``utils`` speaks Chinese too. A message
  not yet translated stays in English (``python scripts/i18n.py status`` counts them).

Usage:  python scripts/make_labs.py            # regenerate labs/ (and refresh badges)
        python scripts/make_labs.py --check    # exit 1 if labs/ is out of date
"""

import argparse
import copy
import pathlib
import re
import sys

import nbformat

from code_messages import phrase_names, translate_code
from markdown_translate import translate_markdown
from po_catalogue import translated_messages

ROOT = pathlib.Path(__file__).resolve().parent.parent
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
# A closing challenge's model entry: deleted from the lab, which keeps the baseline entry above it.
BEGIN_ENTRY, END_ENTRY = "### BEGIN CHALLENGE ENTRY", "### END CHALLENGE ENTRY"
SOLUTION_SUFFIX = " — solution"
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
DROPPED_TAGS = {"solution-only", "answer"}  # cells that exist only in the solution
CHINESE = "zh_CN"
CHINESE_DIR = pathlib.Path("labs") / "zh"
# The stub's message in each language; ``label`` is "Exercise 1.1" or "练习 1.1".
# The setup cell's path to the repository root, from labs/ and from labs/zh/.
LOCAL_ROOT = 'sys.path.insert(0, os.path.abspath(".."))  # the repository root, above labs/ and solutions/'
CHINESE_LOCAL_ROOT = 'sys.path.insert(0, os.path.abspath(os.path.join("..", "..")))  # the repository root'
STUB_MESSAGE = {"en": "{label}: replace this line with your code", CHINESE: "{label}：把这一行换成你的代码"}


def repository_url(root=ROOT):
    """The ``repository.url`` of ``_config.yml`` (the one place it is set)."""
    text = (root / "_config.yml").read_text(encoding="utf-8")
    match = re.search(r"^repository:\s*\n\s+url:\s*(\S+)", text, flags=re.MULTILINE)
    if not match:
        raise SystemExit("_config.yml has no repository.url")
    return match.group(1).rstrip("/")


def colab_link(repo_url, folder, name, branch="main"):
    """Colab address of a notebook in the GitHub repository ``repo_url``."""
    path = repo_url.replace("https://github.com/", "")
    return f"https://colab.research.google.com/github/{path}/blob/{branch}/{folder}/{name}"


def badges(repo_url, name, version):
    """The badge line of the title cell for ``version`` in {"lab", "solution"}."""
    lab, solution = colab_link(repo_url, "labs", name), colab_link(repo_url, "solutions", name)
    if version == "lab":
        return (f"[![Open this lab in Colab]({COLAB_BADGE})]({lab}) "
                f"· [Open the solution in Colab]({solution})")
    return (f"[![Open this solution in Colab]({COLAB_BADGE})]({solution}) "
            f"· [Open the blank lab in Colab]({lab})")


def _is_badge_line(line):
    return COLAB_BADGE in line


def set_badges(cell, repo_url, name, version):
    """Replace the badge line of the title cell (the first cell)."""
    lines = cell.source.splitlines()
    new_line = badges(repo_url, name, version)
    if any(_is_badge_line(line) for line in lines):
        lines = [new_line if _is_badge_line(line) else line for line in lines]
    else:
        lines.insert(1, "\n" + new_line)
    if version == "lab":
        lines = [line.replace(SOLUTION_SUFFIX, "") if line.startswith("# ") else line
                 for line in lines]
    cell.source = "\n".join(lines)


def set_repo_url(cell, repo_url):
    """Point the setup cell's ``REPO_URL = "..."`` at the configured repository."""
    cell.source = re.sub(r'REPO_URL = "[^"]*"', f'REPO_URL = "{repo_url}.git"', cell.source)


def stub_solutions(source, language="en"):
    """Replace each solution block with a ``NotImplementedError`` stub (its message in ``language``).

    Returns:
        ``(new_source, raises_at_top_level)``.
    """
    exercise = re.search(r"Exercise (\d+\.\d+)", source)
    word = "练习" if language == CHINESE else "Exercise"
    label = f"{word} {exercise.group(1)}" if exercise else word
    out, inside, top_level = [], False, False
    for line in source.splitlines():
        stripped = line.strip()
        if stripped == BEGIN:
            indent = line[: len(line) - len(line.lstrip())]
            top_level = top_level or indent == ""
            message = STUB_MESSAGE[language].format(label=label)
            out.append(f'{indent}raise NotImplementedError("{message}")')
            inside = True
        elif stripped == END:
            if not inside:
                raise ValueError(f"{END} without {BEGIN} in:\n{source}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{BEGIN} without {END} in:\n{source}")
    return "\n".join(out), top_level


def drop_challenge_entries(source):
    """``source`` without the lines from ``### BEGIN CHALLENGE ENTRY`` to ``### END CHALLENGE ENTRY``."""
    out, inside = [], False
    for line in source.splitlines():
        stripped = line.strip()
        if stripped == BEGIN_ENTRY:
            if inside:
                raise ValueError(f"nested {BEGIN_ENTRY} in:\n{source}")
            inside = True
        elif stripped == END_ENTRY:
            if not inside:
                raise ValueError(f"{END_ENTRY} without {BEGIN_ENTRY} in:\n{source}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{BEGIN_ENTRY} without {END_ENTRY} in:\n{source}")
    return "\n".join(out)


def make_lab(solution, repo_url, name, language="en"):
    """The lab notebook generated from one solution notebook (a new object), stubs in ``language``."""
    lab = copy.deepcopy(solution)
    lab.cells = [c for c in lab.cells if not DROPPED_TAGS & set(c.metadata.get("tags", []))]
    for cell in lab.cells:
        if cell.cell_type != "code":
            continue
        if BEGIN_ENTRY in cell.source or END_ENTRY in cell.source:
            cell.source = drop_challenge_entries(cell.source)
        if BEGIN in cell.source:
            cell.source, raises = stub_solutions(cell.source, language)
            tags = cell.metadata.setdefault("tags", [])
            if raises and "raises-exception" not in tags:
                tags.append("raises-exception")
        cell.execution_count = None
        cell.outputs = []
    set_badges(lab.cells[0], repo_url, name, "lab")
    return lab


def chinese_badges(repo_url, name):
    """The badge line of a Chinese lab: the Chinese lab and the (English) solution in Colab."""
    lab = colab_link(repo_url, CHINESE_DIR.as_posix(), name)
    solution = colab_link(repo_url, "solutions", name)
    return f"[![在 Colab 中打开本实验]({COLAB_BADGE})]({lab}) · [在 Colab 中打开参考答案（英文）]({solution})"


def make_chinese_lab(solution, repo_url, name, root=ROOT):
    """The Chinese lab of one solution notebook: the lab, translated with the catalogues of ``locales/``."""
    catalogues = root / "locales" / CHINESE / "LC_MESSAGES"
    stem = pathlib.Path(name).stem
    prose = translated_messages(catalogues / "labs" / f"{stem}.po")
    code = translated_messages(catalogues / "code" / "labs" / f"{stem}.po")
    lab = make_lab(solution, repo_url, name, language=CHINESE)
    phrases = phrase_names([cell.source for cell in lab.cells if cell.cell_type == "code"])
    for cell in lab.cells:
        if cell.cell_type == "markdown":
            cell.source = translate_markdown(cell.source, prose)
        elif "parameters" in cell.metadata.get("tags", []):
            cell.source = re.sub(r'^LANGUAGE = "en"', f'LANGUAGE = "{CHINESE}"', cell.source, flags=re.M)
        else:
            cell.source = translate_code(cell.source, code, phrases)
    setup = next(cell for cell in lab.cells if cell.cell_type == "code" and LOCAL_ROOT in cell.source)
    setup.source = setup.source.replace(LOCAL_ROOT, CHINESE_LOCAL_ROOT)  # labs/zh/ is one folder deeper
    lines = lab.cells[0].source.splitlines()
    lab.cells[0].source = "\n".join(chinese_badges(repo_url, name) if _is_badge_line(line) else line
                                    for line in lines)
    return lab


def refresh_solution(solution, repo_url, name):
    """Badges and setup-cell address of a solution, brought in line with ``_config.yml``."""
    set_badges(solution.cells[0], repo_url, name, "solution")
    for cell in solution.cells:
        if cell.cell_type == "code" and "REPO_URL = " in cell.source:
            set_repo_url(cell, repo_url)


def _dump(notebook):
    return nbformat.writes(notebook) + "\n"


def generate(root=ROOT):
    """``{lab_path: text}`` and ``{solution_path: text}`` for every solution notebook."""
    repo_url = repository_url(root)
    labs, solutions = {}, {}
    for path in sorted((root / "solutions").glob("*.ipynb")):
        solution = nbformat.read(path, as_version=4)
        refresh_solution(solution, repo_url, path.name)
        solutions[path] = _dump(solution)
        labs[root / "labs" / path.name] = _dump(make_lab(solution, repo_url, path.name))
        labs[root / CHINESE_DIR / path.name] = _dump(make_chinese_lab(solution, repo_url, path.name, root))
    return labs, solutions


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    labs, solutions = generate()
    stale = [p for p, text in {**solutions, **labs}.items()
             if not p.exists() or p.read_text(encoding="utf-8") != text]
    orphans = [p for p in [*(ROOT / "labs").glob("*.ipynb"), *(ROOT / CHINESE_DIR).glob("*.ipynb")]
               if p not in labs]
    if args.check:
        for p in stale + orphans:
            print(f"out of date: {p.relative_to(ROOT)}")
        return 1 if stale or orphans else 0
    for p in stale:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text({**solutions, **labs}[p], encoding="utf-8")
        print(f"wrote {p.relative_to(ROOT)}")
    for p in orphans:
        p.unlink()
        print(f"removed {p.relative_to(ROOT)} (no solution)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
