"""The language of what ``utils`` prints and draws: English (``"en"``) or Chinese (``"zh_CN"``).

A lab selects it with one setting of its parameters cell::

    LANGUAGE = "zh_CN"            # the Chinese labs (labs/zh/) set this; the English ones "en"
    utils.set_language(LANGUAGE)

Then the self-checks, verdict prefixes, the reference-or-yours lines and the default titles and axis
labels of ``utils.plots`` come out in that language. The translations are the message catalogue
``locales/zh_CN/LC_MESSAGES/code/utils.po``, kept in step with the code by ``scripts/i18n.py extract``
(see the README). ``utils`` formats its messages before printing them, so a message is translated by
matching it against the catalogue's *templates*: ``"{layer.name}: kernel sparsity {sparsity:.1%}"``
matches ``"dense1: kernel sparsity 80.0%"``, and its translation is filled with the same values.
A message without a translation is printed in English (``untranslated()`` lists those seen).
"""

import functools
import pathlib
import re

import matplotlib
from matplotlib import font_manager

LANGUAGES = ("en", "zh_CN")
LOCALES = pathlib.Path(__file__).resolve().parent.parent / "locales"
CATALOGUE = LOCALES / "{language}" / "LC_MESSAGES" / "code" / "utils.po"
# Fonts with Chinese glyphs that matplotlib may find, most common first (Linux, macOS, Windows).
CJK_FONTS = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Heiti SC",
             "Microsoft YaHei", "SimHei")

_state = {"language": "en"}
_missed = set()
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_FIELD = re.compile(r"\{\{|\}\}|\{(?:[^{}]|\{[^{}]*\})*\}")  # a field may nest one: {x:.{digits}f}


def set_language(language):
    """Print and draw in ``language`` ("en" or "zh_CN") from now on; for Chinese, pick a CJK font."""
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, got {language!r}")
    _state["language"] = language
    if language != "en":
        _use_cjk_font()


def language():
    """The language set by ``set_language`` ("en" until then)."""
    return _state["language"]


def _use_cjk_font():
    """Put the first installed CJK font ahead of matplotlib's default, or say how to install one."""
    installed = {font.name for font in font_manager.fontManager.ttflist}
    available = [name for name in CJK_FONTS if name in installed]
    if not available:
        print("No font with Chinese characters was found, so figure labels may show boxes. Install one, e.g. "
              "`sudo apt-get install fonts-wqy-microhei` (Debian/Ubuntu, Colab: prefix with `!`), then "
              "restart.")
        return
    matplotlib.rcParams["font.sans-serif"] = [*available, *matplotlib.rcParams["font.sans-serif"]]
    matplotlib.rcParams["axes.unicode_minus"] = False  # the CJK fonts lack U+2212


def _read_po(path):
    """``{msgid: msgstr}`` of the translated, non-fuzzy messages of a ``.po`` file.

    Entries are separated by blank lines (as every PO writer does); within one, ``msgid "…"`` and
    ``msgstr "…"`` may continue on further quoted lines. Comments (``#``) are skipped, except the
    ``#, fuzzy`` flag.
    """
    entries = {}
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        lines = block.splitlines()
        fuzzy = any(line.startswith("#,") and "fuzzy" in line for line in lines)
        parts, current = {"msgid": [], "msgstr": []}, None
        for line in lines:
            keyword, _, rest = line.partition(" ")
            if keyword in parts:
                current, line = keyword, rest
            if current and line.startswith('"'):
                parts[current].append(_unquote(line))
        msgid, msgstr = "".join(parts["msgid"]), "".join(parts["msgstr"])
        if msgid and msgstr and not fuzzy:
            entries[msgid] = msgstr
    return entries


def _unquote(quoted):
    """The text of one quoted line of a ``.po`` file (C escapes: \\n, \\t, \\", \\\\)."""
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
    return re.sub(r'\\(.)', lambda m: escapes.get(m.group(1), m.group(1)), quoted.strip()[1:-1])


def _template_pattern(template):
    """A regex matching what ``template`` formats to, one group per field, and the fields in order."""
    pattern, fields, position = ["^"], [], 0
    for match in _FIELD.finditer(template):
        pattern.append(re.escape(template[position:match.start()]))
        token = match.group()
        if token in ("{{", "}}"):
            pattern.append(re.escape(token[0]))
        else:
            pattern.append("(.*?)")
            fields.append(token)
        position = match.end()
    pattern.append(re.escape(template[position:]) + "$")
    return re.compile("".join(pattern), re.DOTALL), fields


@functools.cache
def _catalogue(language):
    """``(exact, templated)``: translations of plain messages, and of templated ones as compiled patterns."""
    path = pathlib.Path(str(CATALOGUE).format(language=language))
    entries = _read_po(path) if path.exists() else {}
    exact, templated = {}, []
    for msgid, msgstr in entries.items():
        fields = [f for f in _FIELD.findall(msgid) if f not in ("{{", "}}")]
        if not fields:
            exact[msgid.strip()] = msgstr.strip()
        literal = _FIELD.sub("", msgid)
        if fields and re.search(r"[A-Za-z]{2,}", literal):  # "✔ {message}" alone would match anything
            pattern, names = _template_pattern(msgid)
            templated.append((len(literal), pattern, names, msgstr))
    templated.sort(key=lambda entry: -entry[0])  # the most specific template first
    return exact, templated


def _field_key(field):
    """A field, its quoted words blanked: ``{'a' if x else 'b'}`` and ``{'甲' if x else '乙'}`` are one."""
    return _QUOTED.sub("''", field)


def _fill(translation, names, values, language):
    """``translation`` with each field replaced by the value formatted in its place in the English.

    A value that is itself a message (a self-check's title, a phrase) is translated too.
    """
    by_field = {_field_key(name): _translate(value, language, record=False)
                for name, value in zip(names, values)}

    def replace(match):
        token = match.group()
        if token in ("{{", "}}"):
            return token[0]
        return by_field.get(_field_key(token), token)

    return _FIELD.sub(replace, translation)


def text(message, language=None):
    """``message`` (English, already formatted) in ``language`` (default: the one set by ``set_language``).

    Returned unchanged in English, or when the catalogue has no translation for it (then it is recorded
    in ``untranslated()``).
    """
    language = language or _state["language"]
    if language == "en" or not message:
        return message
    return _translate(message, language, record=True)


def _translate(message, language, record):
    exact, templated = _catalogue(language)
    stripped = message.strip()
    if stripped in exact:
        return message.replace(stripped, exact[stripped])
    for _, pattern, names, translation in templated:
        match = pattern.match(stripped)
        if match:
            return message.replace(stripped, _fill(translation, names, match.groups(), language))
    if record and re.search(r"[A-Za-z]{2,}", stripped):
        _missed.add(stripped)
    return message


def untranslated():
    """The messages ``text`` was asked for and could not translate, since the start (sorted)."""
    return sorted(_missed)
