"""The translatable text inside code: what the labs and ``utils`` print and draw.

Sphinx extracts the prose of the book; it does not look inside code. The Chinese labs also need the
text that code shows a student: verdict and ``print`` lines, figure titles and axis labels, exercise
docstrings (in the labs' code cells), and the self-check messages and default figure labels of ``utils``.
This module finds those string literals with Python's ``ast`` and gives each one a message id, its
*template*: the text of the literal, with an f-string's replacement fields written as in the source
(``f"dense accuracy {acc:.2%}"`` → ``dense accuracy {acc:.2%}``). A translation keeps the fields.

* ``scripts/i18n.py extract`` writes the templates to ``_build/gettext/code/*.pot`` beside Sphinx's
  catalogues, so ``sphinx-intl update`` keeps ``locales/zh_CN/LC_MESSAGES/code/*.po`` in step too;
* ``scripts/make_labs.py`` rewrites the literals of a lab's code with ``translate_code``;
* ``utils.i18n`` translates, at run time, the messages that ``utils`` formats (it matches a printed
  message against the templates).
"""

import ast
import re

# Calls whose string arguments are shown to the reader, and keyword arguments that are labels.
SHOWN_BY_CALL = {"print", "verdict", "challenge", "set_title", "set_xlabel", "set_ylabel", "suptitle",
                 "title", "xlabel", "ylabel", "text", "ok", "fail", "check", "append", "self_check"}
SHOWN_BY_KEYWORD = {"title", "xlabel", "ylabel", "label", "good", "bad", "message"}
FIELD = re.compile(r"\{\{|\}\}|\{(?:[^{}]|\{[^{}]*\})*\}")  # a field may nest one: {x:.{digits}f}


def _call_name(node):
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)


def _string_nodes(expression):
    """The string literals that *are* the value of ``expression``: itself, or ``a if c else b``'s branches."""
    if isinstance(expression, (ast.Constant, ast.JoinedStr)):
        is_text = isinstance(expression, ast.JoinedStr) or isinstance(expression.value, str)
        return [expression] if is_text else []
    if isinstance(expression, ast.IfExp):
        return _string_nodes(expression.body) + _string_nodes(expression.orelse)
    if isinstance(expression, ast.BinOp) and isinstance(expression.op, ast.Add):
        return _string_nodes(expression.left) + _string_nodes(expression.right)
    return []


def template(node, source):
    """The message id of a string literal ``node`` of ``source``: its text, f-string fields as written."""
    if isinstance(node, ast.Constant):
        return node.value
    parts = []
    for value in node.values:
        if isinstance(value, ast.Constant):
            parts.append(value.value.replace("{", "{{").replace("}", "}}"))
        else:
            expression = ast.get_source_segment(source, value.value)
            conversion = "" if value.conversion == -1 else "!" + chr(value.conversion)
            spec = ":" + template(value.format_spec, source) if value.format_spec else ""
            parts.append("{" + expression + conversion + spec + "}")
    return "".join(parts)


def _worth_translating(text):
    """Words a reader sees: two letters in a row outside the fields, not a bare identifier or file name."""
    words = FIELD.sub(" ", text)
    return bool(re.search(r"[A-Za-z]{2,}", words)) and not re.fullmatch(r"[\w.\-/]+", text)


def _compared_strings(tree):
    """Strings that the code compares with (``word != "not distinguishable from"``): never translated,
    since the translated phrase would no longer equal the literal it is compared with."""
    compared = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for operand in [node.left, *node.comparators]:
                compared.update(c.value for c in ast.walk(operand)
                                if isinstance(c, ast.Constant) and isinstance(c.value, str))
    return compared


def _is_exercise(function):
    """An exercise stub's function: its docstring (which a student reads) starts with "Exercise N.M"."""
    return re.match(r"Exercise \d+\.\d+", ast.get_docstring(function) or "") is not None


def phrase_names(sources):
    """Variables of code ``sources`` that are only ever shown: every use is an f-string field or the
    argument of a printing call. A phrase assigned to one (``outcome = "gradual wins"``) can be translated;
    one that is also used as a key or an argument (``latency[name_50]``) must keep its English value."""
    shown, other = set(), set()
    for source in sources:
        tree = ast.parse(source)
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                parent = parents.get(node)
                printed_by_call = (isinstance(parent, ast.Call) and _call_name(parent) in SHOWN_BY_CALL
                                   and node in parent.args)
                printed = isinstance(parent, ast.FormattedValue) or printed_by_call
                (shown if printed else other).add(node.id)
    return shown - other


def shown_literals(source, phrases=None):
    """``[(node, template, is_docstring)]`` of the string literals of ``source`` that a reader sees, in order.

    These are the string arguments of printing, verdict and plotting calls (``SHOWN_BY_CALL``), the
    label-like keyword arguments (``SHOWN_BY_KEYWORD``), the docstrings of the exercises, and phrases
    assigned or returned for a later message: in a notebook (``phrases``, from ``phrase_names``) only
    those assigned to a variable that is only ever shown; in ``utils`` (``phrases=None``, translated at
    run time when printed, never rewritten) all of them.
    """
    tree = ast.parse(source)
    compared = _compared_strings(tree)
    found = {}
    for node in ast.walk(tree):
        candidates, docstring, words = [], False, set()
        if isinstance(node, ast.Call):
            if _call_name(node) in SHOWN_BY_CALL:
                for argument in node.args:
                    candidates += _string_nodes(argument)
            if _call_name(node) == "print":  # a word printed alone ("less", "over-confident") is prose
                words = {id(c) for c in candidates}
            for keyword in node.keywords:
                if keyword.arg in SHOWN_BY_KEYWORD:
                    candidates += _string_nodes(keyword.value)
        elif isinstance(node, (ast.Assign, ast.Return)) and node.value is not None and (
                phrases is None or (isinstance(node, ast.Assign) and len(node.targets) == 1
                                    and getattr(node.targets[0], "id", None) in phrases)):
            # a phrase kept in a variable, or returned, for a later message
            candidates = [c for c in _string_nodes(node.value) if " " in template(c, source)]
        elif isinstance(node, ast.FunctionDef):
            defaults = zip(reversed(node.args.args), reversed(node.args.defaults))
            keyword_defaults = zip(node.args.kwonlyargs, node.args.kw_defaults)
            candidates = [default for argument, default in [*defaults, *keyword_defaults]
                          if default is not None and argument.arg in SHOWN_BY_KEYWORD
                          and isinstance(default, ast.Constant)]
            if ast.get_docstring(node, clean=False) and _is_exercise(node):
                candidates, docstring = [node.body[0].value], True
        for candidate in candidates:
            text = template(candidate, source)
            printed_word = id(candidate) in words and re.search(r"[A-Za-z]{2,}", FIELD.sub(" ", text))
            worth = _worth_translating(text) or printed_word
            if worth and text not in compared:
                found[(candidate.lineno, candidate.col_offset)] = (candidate, text, docstring)
    return [found[key] for key in sorted(found)]


def _literal(text, was_fstring, is_docstring):
    """Python source of a string literal whose template is ``text`` (an f-string if ``was_fstring``)."""
    if is_docstring:
        return '"""' + text.replace("\\", "\\\\").replace('"""', '\\"""') + '"""'
    return ("f" if was_fstring else "") + repr(text)


def translate_code(source, translations, phrases=frozenset()):
    """``source`` with each shown literal whose template is in ``translations`` rewritten in translation.

    ``phrases``: the notebook's ``phrase_names``. Unchanged when nothing matches. A translated f-string
    keeps its fields, so it formats the same values.
    """
    edits = []
    for node, text, is_docstring in shown_literals(source, phrases):
        translated = translations.get(text)
        if not translated or translated == text:
            continue
        new = _literal(translated, isinstance(node, ast.JoinedStr), is_docstring)
        edits.append((node.lineno, node.col_offset, node.end_lineno, node.end_col_offset, new))
    if not edits:
        return source
    lines = source.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line.encode("utf-8")))
    data = source.encode("utf-8")
    for start_line, start_col, end_line, end_col, new in sorted(edits, reverse=True):
        start, end = offsets[start_line - 1] + start_col, offsets[end_line - 1] + end_col
        data = data[:start] + new.encode("utf-8") + data[end:]
    result = data.decode("utf-8")
    ast.parse(result)  # a translation must leave the code valid
    return result


# Where the messages of ``utils`` live: what its self-checks print and what its figures and reports show.
UTILS_SOURCES = ("utils/checks/*.py", "utils/plots.py", "utils/stats.py", "utils/audit.py", "utils/deploy.py")


def notebook_templates(notebook):
    """The templates of a notebook's code cells, in order, each once."""
    sources = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    phrases = phrase_names(sources)
    seen = {}
    for source in sources:
        for _, text, _ in shown_literals(source, phrases):
            seen.setdefault(text, None)
    return list(seen)


def utils_templates(root):
    """The templates of ``utils`` (``UTILS_SOURCES``), in order, each once, with the file each comes from."""
    seen = {}
    for pattern in UTILS_SOURCES:
        for path in sorted(root.glob(pattern)):
            for node, text, _ in shown_literals(path.read_text(encoding="utf-8")):
                seen.setdefault(text, (str(path.relative_to(root)), node.lineno))
    return seen
