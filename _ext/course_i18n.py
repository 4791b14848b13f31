"""The two editions of the book, English and Chinese (``scripts/i18n.py``): what Sphinx needs besides
the catalogues.

A small Sphinx extension, loaded by ``_config.yml`` (``sphinx.local_extensions``):

* every page's sidebar gets a link to the same page in the other edition
  (``_templates/language-switch.html``).
  The editions are built side by side, ``_build/html/`` and ``_build/html-zh/`` (``scripts/i18n.py``), so
  the link is relative and works from a file, a local server or a web host alike;
* in the Chinese edition, the glossary's tables lead with the Chinese term (the columns English | 中文
  are swapped after translation), as a Chinese reader looks terms up by their Chinese name;
* a table inside a directive (the bibliography's warning) is translated like any other: MyST leaves its
  cells without a source line, which Sphinx needs to extract and translate a message
  (``SourceForNestedTables``);
* the parts' captions of the sidebar are translated: sphinx-external-toc makes the toctrees of
  ``_toc.yml`` after Sphinx has translated the page, so ``TranslateTocCaptions`` translates their captions;
* a translated paragraph keeps its computed numbers: Sphinx parses each translation on its own, where
  MyST-NB's ``{glue:text}`` role cannot see the page's executed outputs, so the page's notebook
  renderer is lent to that parse (``_lend_glue_data``).
"""

from os import path

from docutils import nodes
from myst_nb.ext.glue import directives as glue_directives
from myst_nb.ext.glue import roles as glue_roles
from myst_nb.ext.glue import utils as glue_utils
from sphinx import addnodes
from sphinx.locale import init as init_locale
from sphinx.transforms import SphinxTransform
from sphinx.util.i18n import docname_to_domain

# The edition folders under _build/ and the label of the link that leads to each.
EDITIONS = {"en": ("html", "English version"), "zh_CN": ("html-zh", "中文版")}
GLOSSARY = "book/glossary"


def _other_edition(language):
    """The (language, folder, label) of the edition that the current one links to."""
    other = "en" if language == "zh_CN" else "zh_CN"
    folder, label = EDITIONS[other]
    return other, folder, label


def add_switch(app, pagename, templatename, context, doctree):
    """Put the link to this page in the other edition into the page's sidebar."""
    language, folder, label = _other_edition(app.config.language)
    up = "../" * (pagename.count("/") + 1)  # from this page up to _build/
    context["language_switch"] = {"href": f"{up}{folder}/{pagename}.html", "label": label,
                                  "hreflang": language.replace("_", "-")}
    sidebars = context.get("sidebars")
    if isinstance(sidebars, list) and "language-switch.html" not in sidebars:
        context["sidebars"] = [*sidebars[:1], "language-switch.html", *sidebars[1:]]


def _swap_first_two_columns(table):
    """Swap the first two columns of a docutils table, its column widths included."""
    group = table.next_node(nodes.tgroup)
    colspecs = [child for child in group.children if isinstance(child, nodes.colspec)]
    if len(colspecs) >= 2:
        first, second = group.index(colspecs[0]), group.index(colspecs[1])
        group.children[first], group.children[second] = colspecs[1], colspecs[0]
    for row in table.findall(nodes.row):
        if len(row.children) >= 2:
            row.children[0], row.children[1] = row.children[1], row.children[0]


def chinese_term_first(app, doctree, docname):
    """In the Chinese edition, the glossary's term tables lead with the 中文 column."""
    if app.config.language != "zh_CN" or docname != GLOSSARY:
        return
    for table in doctree.findall(nodes.table):
        header = table.next_node(nodes.thead)
        cells = [entry.astext().strip() for entry in header.findall(nodes.entry)] if header else []
        if len(cells) >= 2 and cells[1] == "中文":
            _swap_first_two_columns(table)


class SourceForNestedTables(SphinxTransform):
    """Give the cells of tables nested in directives the page as their source, before translation (20)."""

    default_priority = 5

    def apply(self, **kwargs):
        for table in self.document.findall(nodes.table):
            for cell in table.findall(nodes.TextElement):
                if not cell.source:
                    cell.source = self.document["source"]
                    cell.line = cell.line or table.line or 0


class TranslateTocCaptions(SphinxTransform):
    """Translate the captions of the toctrees that sphinx-external-toc inserts (its transform runs at 100)."""

    default_priority = 110

    def apply(self, **kwargs):
        if self.config.language in (None, "en"):
            return
        domain = docname_to_domain(self.env.docname, self.config.gettext_compact)
        directories = [path.join(self.env.srcdir, directory) for directory in self.config.locale_dirs]
        catalogue, found = init_locale(directories, self.config.language, domain)
        if not found:
            return
        for toctree in self.document.findall(addnodes.toctree):
            caption = toctree.get("rawcaption")
            if caption and catalogue.gettext(caption) != caption:
                toctree.apply_translated_message(caption, catalogue.gettext(caption))


_retrieve_glue_data = glue_utils.retrieve_glue_data


def _lend_glue_data(document, key):
    """MyST-NB's ``retrieve_glue_data``, which also works inside a translated message.

    A translation is parsed as a document of its own, after the page, without the page's notebook
    renderer (which holds the glue data). The English page is parsed first and its own glue roles
    come through here, so the renderer is kept then and lent to the translations of the same page.
    """
    env = getattr(document.settings, "env", None)
    if env is None:
        return _retrieve_glue_data(document, key)
    if "nb_renderer" in document:
        env.temp_data["course_i18n_nb_renderer"] = document["nb_renderer"]
        return _retrieve_glue_data(document, key)
    # MyST-NB only reads document["nb_renderer"]: lend it without touching the (pickled) document
    lent = {"nb_renderer": env.temp_data["course_i18n_nb_renderer"]} if "course_i18n_nb_renderer" in \
        env.temp_data else document
    return _retrieve_glue_data(lent, key)


def setup(app):
    app.connect("html-page-context", add_switch)
    app.connect("doctree-resolved", chinese_term_first)
    app.add_transform(TranslateTocCaptions)
    app.add_transform(SourceForNestedTables)
    glue_roles.retrieve_glue_data = _lend_glue_data
    glue_directives.retrieve_glue_data = _lend_glue_data
    return {"parallel_read_safe": True, "parallel_write_safe": True}
