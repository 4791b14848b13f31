"""Translate a notebook's Markdown cell with the book's message catalogue, block by block.

Sphinx cuts a page into messages with the same parser as the book, MyST's markdown-it: one message per
paragraph, heading, list item's paragraph, table cell and directive title, the paragraph's source
lines joined with spaces. This module cuts a Markdown cell the same way, looks each block up in the
catalogue (``{English message: translation}``) and writes the translation in the block's place, so that
a Chinese lab reads like the Chinese book's page of that lab. Structure (headings, list markers, table
pipes, directive fences and options, math blocks) is kept; a block without a translation is kept in
English and reported.
"""

import re

from markdown_it.renderer import RendererHTML
from myst_parser.config.main import MdParserConfig
from myst_parser.parsers.mdit import create_md_parser

# The extensions of _config.yml's parse.myst_enable_extensions: the book's parser, the labs' parser.
EXTENSIONS = {"amsmath", "colon_fence", "dollarmath", "deflist", "substitution"}
# Directives whose body is Markdown prose (their title, if any, is a message too).
PROSE_DIRECTIVES = {"admonition", "note", "tip", "hint", "important", "warning", "caution", "attention",
                    "danger", "error", "seealso", "dropdown", "exercise", "solution", "margin", "sidebar",
                    "topic", "epigraph"}
_OPTION = re.compile(r"^\s*:[\w-]+:")
_PARSER = create_md_parser(MdParserConfig(enable_extensions=EXTENSIONS), RendererHTML)


def message_id(content):
    """A block's message id as Sphinx extracts it: its source lines joined by spaces, stripped."""
    return content.replace("\n", " ").strip()


def _replace_block(lines, start, end, content, translation):
    """Lines ``start``–``end`` hold a block whose text is ``content``: write ``translation`` in its place."""
    first = content.split("\n", 1)[0].strip()
    prefix = lines[start][: lines[start].find(first)] if first and first in lines[start] else ""
    lines[start:end] = [prefix + translation] + [None] * (end - start - 1)


def _directive(info):
    """``(name, argument)`` of a fence's info string ``{name} argument``, or None for a code fence."""
    match = re.match(r"^\{([\w:-]+)\}\s*(.*)$", info.strip())
    return (match.group(1), match.group(2).strip()) if match else None


def translate_markdown(text, catalogue, missing=None):
    """``text`` with each block that ``catalogue`` translates written in translation.

    Args:
        text: a Markdown (MyST) cell.
        catalogue: ``{message id: translation}``.
        missing: optional list; the ids of blocks without a translation are appended to it.

    Returns:
        The translated text.
    """
    missing = [] if missing is None else missing
    lines = text.split("\n")
    tokens = _PARSER.parse(text)
    row = None
    for index, token in enumerate(tokens):
        if token.type == "tr_open":
            row = token.map[0] if token.map else None
        if token.type == "inline" and index > 0:
            opener = tokens[index - 1]
            msgid = message_id(token.content)
            translation = catalogue.get(msgid)
            if not msgid or not re.search(r"[A-Za-z]{2,}", msgid):
                continue
            if translation is None:
                missing.append(msgid)
            elif opener.type in ("th_open", "td_open") and row is not None and lines[row] is not None:
                lines[row] = lines[row].replace(token.content.strip(), translation, 1)
            elif opener.map and lines[opener.map[0]] is not None:
                _replace_block(lines, opener.map[0], opener.map[1], token.content, translation)
        elif token.type in ("fence", "colon_fence") and token.map:
            directive = _directive(token.info)
            if directive and directive[0] in PROSE_DIRECTIVES:
                _translate_directive(lines, token, directive, catalogue, missing)
    return "\n".join(line for line in lines if line is not None)


def _translate_directive(lines, token, directive, catalogue, missing):
    """Translate a prose directive in place: its title (the argument) and its body, options kept."""
    start, end = token.map
    name, argument = directive
    if argument and re.search(r"[A-Za-z]{2,}", argument):
        translation = catalogue.get(message_id(argument))
        if translation is None:
            missing.append(argument)
        else:
            lines[start] = lines[start].replace(argument, translation, 1)
    body = token.content.split("\n")
    options = 0
    while options < len(body) and _OPTION.match(body[options]):
        options += 1
    prose = "\n".join(body[options:])
    translated = translate_markdown(prose, catalogue, missing).split("\n")
    first_body_line = start + 1 + options
    closing = end - 1 if end - 1 > start and lines[end - 1] is not None and lines[end - 1].strip().startswith(
        (token.markup, "```", ":::")) else end
    room = closing - first_body_line
    if len(translated) > room:
        raise ValueError(f"the translated body of {{{name}}} has more lines than the English one")
    lines[first_body_line:closing] = translated + [None] * (room - len(translated))
