"""The Chinese edition: complete, in step with the English sources, and wired into the labs.

* The catalogues in ``locales/zh_CN/LC_MESSAGES/`` hold exactly the messages that Sphinx's gettext
  builder and ``scripts/code_messages.py`` extract from today's sources (a changed English paragraph
  is a new message and fails here until ``python scripts/i18n.py extract`` has been run and it is
  translated), and every message is translated, not fuzzy, with its markup intact.
* ``utils.i18n`` translates formatted messages through their templates, and the plotting helpers
  draw in the language asked for.
"""

import pathlib
import re

import pytest

import i18n
import po_catalogue
import utils
from code_messages import translate_code
from markdown_translate import translate_markdown
from utils import i18n as runtime
from utils import plots

ROOT = pathlib.Path(__file__).resolve().parent.parent
CHINESE = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def fresh_templates(tmp_path_factory):
    """The message templates extracted afresh from the sources (Sphinx's and the code's)."""
    pot_dir = tmp_path_factory.mktemp("gettext")
    i18n.extract(pot_dir)
    i18n.extract_code(pot_dir)
    return pot_dir


def _ids(path):
    return {message.id for message in po_catalogue.messages(po_catalogue.read(path))}


def test_catalogues_hold_exactly_the_messages_of_the_sources(fresh_templates):
    templates = {p.relative_to(fresh_templates).with_suffix(""): p for p in fresh_templates.rglob("*.pot")}
    catalogues = {p.relative_to(i18n.CATALOGUES).with_suffix(""): p
                  for p in po_catalogue.catalogues(i18n.CATALOGUES)}
    assert sorted(templates) == sorted(catalogues), (
        "the catalogues in locales/ do not match the pages and labs: run python scripts/i18n.py extract")
    for name, template in templates.items():
        new = _ids(template) - _ids(catalogues[name])
        gone = _ids(catalogues[name]) - _ids(template)
        assert not new and not gone, (
            f"locales/zh_CN/LC_MESSAGES/{name}.po is out of date with the English source "
            f"({len(new)} new messages, e.g. {sorted(new)[:2]}; {len(gone)} no longer in the source): "
            "run python scripts/i18n.py extract, then translate what it marks")
        obsolete = po_catalogue.read(catalogues[name]).obsolete
        assert not obsolete, f"{name}.po keeps {len(obsolete)} obsolete messages: run scripts/i18n.py extract"


@pytest.mark.parametrize("path", po_catalogue.catalogues(i18n.CATALOGUES),
                         ids=lambda p: str(p.relative_to(i18n.CATALOGUES)))
def test_every_message_is_translated_and_keeps_its_markup(path):
    found = po_catalogue.messages(po_catalogue.read(path))
    untranslated = [m.id for m in found if not m.string]
    fuzzy = [m.id for m in found if m.fuzzy]
    broken = [(m.id, po_catalogue.markup_problems(m.id, m.string)) for m in found
              if m.string and po_catalogue.markup_problems(m.id, m.string)]
    assert not untranslated, f"{len(untranslated)} untranslated messages, e.g. {untranslated[:3]}"
    assert not fuzzy, f"{len(fuzzy)} fuzzy messages (the English changed; check them), e.g. {fuzzy[:3]}"
    assert not broken, f"translations that lost or added markup: {broken[:3]}"


def test_markup_check_catches_a_lost_citation_and_a_changed_field():
    assert po_catalogue.markup_problems("see {cite:p}`han2015learning`", "见文献") == [
        "missing '{cite:p}<han2015learning>'"]
    assert po_catalogue.markup_problems("accuracy {acc:.2%}", "准确率 {acc:.1%}") == [
        "missing '{acc:.2%}'", "not in the English '{acc:.1%}'"]
    titled = "the {doc}`concepts <02_concepts>`"
    assert po_catalogue.markup_problems(titled, "{doc}`概念 <02_concepts>`") == []


def test_markdown_blocks_are_translated_in_place_with_their_structure():
    text = ("## A title\n\nA paragraph\nover two lines.\n\n- an item\n- `code` item\n\n"
            "| term | meaning |\n|---|---|\n| mask | kept weights |")
    catalogue = {"A title": "标题", "A paragraph over two lines.": "一个段落。", "an item": "一项",
                 "`code` item": "`code` 项", "term": "术语", "meaning": "含义", "mask": "掩码",
                 "kept weights": "保留的权重"}
    assert translate_markdown(text, catalogue) == (
        "## 标题\n\n一个段落。\n\n- 一项\n- `code` 项\n\n| 术语 | 含义 |\n|---|---|\n| 掩码 | 保留的权重 |")
    missing = []
    translate_markdown("Not in the catalogue.", {}, missing)
    assert missing == ["Not in the catalogue."]


def test_code_literals_are_translated_and_the_code_stays_valid():
    source = 'print(f"accuracy {acc:.2%}")\ncheck.verdict(ok, "dense ≥ 97 %")\nx = "digits"\n'
    out = translate_code(source, {"accuracy {acc:.2%}": "准确率 {acc:.2%}", "dense ≥ 97 %": "稠密 ≥ 97 %"})
    assert out == 'print(f\'准确率 {acc:.2%}\')\ncheck.verdict(ok, \'稠密 ≥ 97 %\')\nx = "digits"\n'


def test_runtime_translation_fills_templates_and_reports_what_it_cannot():
    assert runtime.text("anything", "en") == "anything"
    message = "→ Exercise 1.1 (magnitude_mask): all checks passed. Well done!"
    translated = runtime.text(message, "zh_CN")
    assert CHINESE.search(translated) and "1.1" in translated
    assert runtime.text("a message no catalogue has", "zh_CN") == "a message no catalogue has"
    assert "a message no catalogue has" in runtime.untranslated()


def test_set_language_names_the_languages_it_accepts():
    with pytest.raises(ValueError, match="zh_CN"):
        utils.set_language("fr")
    utils.set_language("en")
    assert runtime.language() == "en"


def test_plotting_helpers_draw_in_the_language_asked_for():
    curves = {"one-shot": ([0, 50, 90], [98, 97, 60])}
    english = plots.tradeoff_curve(curves)
    chinese = plots.tradeoff_curve(curves, language="zh_CN")
    assert english.get_title() == "Accuracy vs sparsity"
    assert CHINESE.search(chinese.get_title()) and CHINESE.search(chinese.get_xlabel())
