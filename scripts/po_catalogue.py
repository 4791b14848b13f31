"""Reading the Chinese edition's message catalogues (``locales/zh_CN/LC_MESSAGES/**/*.po``) and checking them.

A catalogue is *complete* when every message has a translation that is not marked fuzzy, and when
the translation keeps the message's markup: roles (``{cite:p}`key```, ``{doc}`page```), code fields
(``{acc:.2%}``), inline code,
inline math and link targets must come through unchanged, or the Chinese page would lose a citation,
a formula or a link. Used by ``scripts/i18n.py status``, ``scripts/make_labs.py`` (the Chinese labs)
and ``tests/test_i18n.py``. Reads and writes with Babel, which Sphinx itself uses for catalogues.
"""

import ast
import collections
import pathlib
import re

from babel.messages.pofile import read_po, write_po

from code_messages import FIELD  # a replacement field of a code message: {acc:.2%} in f"accuracy {acc:.2%}"

# Markup that a translation must keep verbatim, in the order it is searched for (roles before code).
_ROLE = re.compile(r"(?<!`)\{[\w:.-]+\}`[^`]*`")  # not ``{directive}`` written as inline code
_CODE = re.compile(r"``[^`]+``|`[^`]+`")
_MATH = re.compile(r"\$\$.+?\$\$|\$[^$\s][^$]*?\$", re.DOTALL)
_LINK_TARGET = re.compile(r"\]\(([^)\s]+)\)")
_ROLE_TARGET = re.compile(r"^(\{[\w:.-]+\})`(?:[^`<]*<([^>]+)>|([^`]*))`$")


def read(path):
    """The catalogue at ``path`` (a Babel ``Catalog``)."""
    with open(path, "rb") as handle:
        return read_po(handle)


def write(catalogue, path):
    """Write ``catalogue`` to ``path``, one message per line (no wrapping, as ``sphinx-intl -w -1``)."""
    with open(path, "wb") as handle:
        write_po(handle, catalogue, width=0, omit_header=False)


def catalogues(directory):
    """Every ``.po`` file under ``directory``, sorted."""
    return sorted(pathlib.Path(directory).rglob("*.po"))


def messages(catalogue):
    """The real messages of ``catalogue`` (the header, whose id is empty, left out)."""
    return [message for message in catalogue if message.id]


def translated_messages(path):
    """``{English: translation}`` of the translated, not fuzzy messages of the catalogue at ``path``."""
    path = pathlib.Path(path)
    if not path.exists():
        return {}
    return {m.id: m.string for m in messages(read(path)) if m.string and not m.fuzzy}


def _role_key(role):
    """A role as it must survive translation: its name and target; an explicit title may be translated."""
    match = _ROLE_TARGET.match(role)
    return f"{match.group(1)}<{match.group(2) or match.group(3)}>" if match else role


def protected_markup(text):
    """The markup of ``text`` that a translation must keep: roles, inline code, math, link targets."""
    roles = [_role_key(role) for role in _ROLE.findall(text)]
    rest = _ROLE.sub(" ", text)
    code = _CODE.findall(rest)
    rest = _CODE.sub(" ", rest)
    math = _MATH.findall(rest)
    rest = _MATH.sub(" ", rest)
    fields = [field_key(field) for field in FIELD.findall(rest) if field not in ("{{", "}}")]
    return collections.Counter(roles + code + math + _LINK_TARGET.findall(rest) + fields)


def field_key(field):
    """A code field as a translation must keep it: the same expression, the words it chooses between aside.

    ``{'met' if ok else 'NOT met'}`` may become ``{'达标' if ok else '未达标'}`` and ``{x or 'none'}``
    ``{x or '无'}``: the words printed are translated, the expression that chooses them is not. Any
    other string constant (a key in ``{d['global']}``, an argument) must stay as it is.
    """
    expression, rest = _split_field(field[1:-1])
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        return field
    chosen = []
    for node in ast.walk(tree):
        branches = [node.body, node.orelse] if isinstance(node, ast.IfExp) else \
            node.values if isinstance(node, ast.BoolOp) else []
        chosen += [b for b in branches if isinstance(b, ast.Constant) and isinstance(b.value, str)]
    source = expression.encode("utf-8")  # ast's offsets count bytes
    for node in sorted(chosen, key=lambda n: n.col_offset, reverse=True):
        source = source[:node.col_offset] + "'…'".encode() + source[node.end_col_offset:]
    return "{" + source.decode("utf-8") + rest + "}"


def _split_field(body):
    """``(expression, "!r:.2f")``: a field's expression and its conversion and format spec."""
    depth, quote = 0, None
    for index, char in enumerate(body):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif depth == 0 and (char == ":" or (char == "!" and body[index + 1:index + 2] != "=")):
            return body[:index], body[index:]
    return body, ""


# A heading that starts with its number ("1. The baseline"). Sphinx parses a translated title on its own,
# with a setext underline: unescaped, "1. 基线" would be a list item and the title would stay English.
NUMBERED_TITLE = re.compile(r"^\d+[.)]\s")
ESCAPED_NUMBER = re.compile(r"^\d+\\[.)]\s")


def markup_problems(msgid, msgstr):
    """What ``msgstr`` lost or added of ``msgid``'s protected markup, as readable strings ([] if none)."""
    source, target = protected_markup(msgid), protected_markup(msgstr)
    lost = [f"missing {token!r}" for token in (source - target).elements()]
    added = [f"not in the English {token!r}" for token in (target - source).elements()]
    unescaped = ([f"a numbered title must escape its number, as in '1\\. 标题', not {msgstr[:12]!r}"]
                 if NUMBERED_TITLE.match(msgid) and not ESCAPED_NUMBER.match(msgstr) else [])
    return lost + added + unescaped


def needs_no_translation(msgid):
    """True for a message with no words to translate: a formula, a number, code, a citation, a link."""
    rest = FIELD.sub(" ", _MATH.sub(" ", _CODE.sub(" ", _ROLE.sub(" ", msgid))))
    rest = re.sub(r"https?://\S+|\]\([^)]*\)", " ", rest)
    return "\n" in msgid.strip() or not re.search(r"[A-Za-z]{2,}", rest)


Status = collections.namedtuple("Status", "messages translated untranslated fuzzy obsolete markup")


def status(catalogue):
    """How complete ``catalogue`` is: counts of its messages and of each kind of problem."""
    found = messages(catalogue)
    untranslated = [m for m in found if not m.string]
    fuzzy = [m for m in found if m.fuzzy]
    markup = [m for m in found if m.string and markup_problems(m.id, m.string)]
    translated = len(found) - len(untranslated) - len(fuzzy)
    return Status(len(found), translated, len(untranslated), len(fuzzy), len(catalogue.obsolete), len(markup))


def print_status(directory):
    """One line per catalogue under ``directory`` and a total; returns the total ``Status``."""
    total = Status(0, 0, 0, 0, 0, 0)
    for path in catalogues(directory):
        counts = status(read(path))
        total = Status(*(a + b for a, b in zip(total, counts)))
        print(f"{path.relative_to(directory)}: {counts.translated}/{counts.messages} translated, "
              f"{counts.untranslated} untranslated, {counts.fuzzy} fuzzy, {counts.obsolete} obsolete, "
              f"{counts.markup} with broken markup")
    share = total.translated / total.messages if total.messages else 1.0
    print(f"total: {total.translated}/{total.messages} messages translated ({share:.1%}); "
          f"{total.untranslated} untranslated, {total.fuzzy} fuzzy, {total.obsolete} obsolete, "
          f"{total.markup} with broken markup")
    return total
