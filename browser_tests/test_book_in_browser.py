"""The built book, opened in a real browser: headless Chromium driven by Selenium.

Run it after building the book (``.ci/run`` does both)::

    jupyter-book build . -W -n --keep-going
    python -m pytest browser_tests

It needs Debian's Chromium and ChromeDriver (``apt-get install chromium chromium-driver``;
``.ci/run`` installs them). It lives outside pytest's default test paths, so the README's
``python -m pytest`` does not need a built book or a browser.

The test serves ``_build/`` on 127.0.0.1 and opens, in both editions (English ``_build/html/`` and
Chinese ``_build/html-zh/``, built by ``python scripts/i18n.py build-zh``), the site's entry page
(which redirects to the introduction), a chapter with math and figures, a lab and a solution.
Chromium resolves no
host name except 127.0.0.1 (``--host-resolver-rules``), so the book is checked the way an offline
student sees it: anything the book loads from the internet fails here. For each page it checks
that

* every math element was typeset by MathJax (``mjx-container``, no ``mjx-merror``);
* every image loaded, and the chapter and the solution have figures (the chapter's with alt text);
* nothing is loaded from another host, except what ``ALLOWED_EXTERNAL`` lists with its reason;
* the browser console has no errors, except those that ``ALLOWED_CONSOLE_ERRORS`` lists;
* the sidebar lists every part and every page of ``_toc.yml``;
* lab and solution pages have launch buttons (Binder, Colab and, when configured, JupyterHub)
  that point at this notebook in the repository of ``_config.yml``;
* the Chinese pages are in Chinese (``<html lang="zh-CN">``, Chinese text in the article) and their
  Chinese characters are drawn by a real font, not as empty boxes;
* every page's language switch leads to the same page in the other edition, both ways.

Screenshots of every page go to ``_build/screenshots/`` (CI artefacts): look at them.
"""

import functools
import http.server
import os
import pathlib
import re
import shutil
import sys
import tempfile
import threading
import urllib.parse

import pytest
import yaml

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "scripts"))
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

import po_catalogue  # noqa: E402 (scripts/ is not a package)

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD = ROOT / "_build"
HTML = BUILD / "html"
HTML_ZH = BUILD / "html-zh"
SCREENSHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))

# name → (path under _build/html, what the page is); each is opened in both editions.
EN_PAGES = {
    "introduction": ("index.html", "the site's entry page, which redirects to the introduction"),
    "chapter": ("book/02_concepts.html", "a chapter with math and computed figures"),
    "lab": ("labs/lab01_weight_pruning.html", "a blank lab"),
    "solution": ("solutions/lab01_weight_pruning.html", "an executed solution with figures"),
}
EDITIONS = {"": "html", "-zh": "html-zh"}  # page-name suffix → the edition's folder under _build/
PAGES = {name + suffix: (f"{folder}/{path}", what) for suffix, folder in EDITIONS.items()
         for name, (path, what) in EN_PAGES.items()}
CHINESE_PAGES = [name for name in PAGES if name.endswith("-zh")]
INTRODUCTION = TOC["root"] + ".html"
NOTEBOOK_PAGES = [name for name in PAGES if name.startswith(("lab", "solution"))]
PAGES_WITH_MATH = [name for name in PAGES if name.startswith(("chapter", "solution"))]
PAGES_WITH_FIGURES = PAGES_WITH_MATH

# The only things the book may load from another host. Offline (this test, CI, a student on a
# train) they fail to load; each entry says why that is acceptable.
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
ALLOWED_EXTERNAL = {
    COLAB_BADGE: "the notebooks' 'Open in Colab' badge (an image on Colab's site). Offline it shows "
                 "its alt text, and the link it belongs to needs the network anyway.",
}
# Console errors that are expected, as (regular expression, reason). Everything else fails the test.
ALLOWED_CONSOLE_ERRORS = [
    ("^" + re.escape(COLAB_BADGE) + r" - Failed to load resource: net::ERR_NAME_NOT_RESOLVED$",
     "the Colab badge cannot load offline (see ALLOWED_EXTERNAL)"),
    (r"^http://127\.0\.0\.1:\d+/favicon\.ico - Failed to load resource: "
     r"the server responded with a status of 404",
     "the book has no favicon, so Chromium asks the server's root for /favicon.ico and gets 404"),
    (r"^http://127\.0\.0\.1:\d+/\S+\.html \d+:\d+ Uncaught SyntaxError: "
     r"Identifier 'THEBE_JS_URL' has already been declared$",
     "Sphinx 7.4 writes sphinx-thebe 0.3.1's inline config <script> twice (it re-adds the body-only "
     "script registered in env-before-read-docs in prepare_writing, as '' instead of None). The second "
     "copy re-declares the same constants and stops; thebe is off (launch_buttons.thebe: false)."),
]

# Runs in the page once it has loaded: waits for MathJax's first typeset, the web fonts and the
# images, then reports what the checks need. Answers {"error": ...} if the page never settles.
COLLECT_JS = r"""
const done = arguments[arguments.length - 1];
const start = Date.now();
const settled = () => Promise.all([
  document.fonts.ready,
  ...Array.from(document.images).map(img => img.complete ? null :
      new Promise(ok => { img.addEventListener("load", ok); img.addEventListener("error", ok); })),
]);
function texErrors() {
  // TeX that MathJax could not parse: an <merror>, or an undefined macro, which MathJax's
  // "noundefined" extension draws as red text instead of failing.
  if (!(window.MathJax && MathJax.startup && MathJax.startup.document && MathJax.startup.toMML)) return [];
  return Array.from(MathJax.startup.document.math)
      .filter(item => /<merror|<mtext mathcolor="red">\\/.test(MathJax.startup.toMML(item.root)))
      .map(item => item.math.slice(0, 80));
}
function collect() {
  const abs = url => new URL(url, document.baseURI).href;
  const nav = document.querySelector("nav.bd-docs-nav");
  const figures = Array.from(document.querySelectorAll("article img"))
      .filter(img => img.getAttribute("src").includes("_images/"));
  done({
    url: location.href,
    title: document.title,
    math: document.querySelectorAll("span.math, div.math").length,
    untypeset: Array.from(document.querySelectorAll("span.math, div.math"))
        .filter(el => !el.querySelector("mjx-container")).map(el => el.textContent.slice(0, 80)),
    mjx: document.querySelectorAll("mjx-container").length,
    merrors: texErrors(),
    images: Array.from(document.images).map(img => ({
        src: img.currentSrc || abs(img.getAttribute("src")), loaded: img.complete && img.naturalWidth > 0})),
    figures: figures.map(img => ({src: img.getAttribute("src"), alt: img.getAttribute("alt") || ""})),
    resources: [
      ...Array.from(document.querySelectorAll("script[src]")).map(el => abs(el.getAttribute("src"))),
      ...Array.from(document.querySelectorAll("link[href]"))
          .filter(el => /stylesheet|preload|icon|modulepreload/.test(el.rel)).map(el => el.href),
      ...Array.from(document.querySelectorAll("img[src], iframe[src], source[src]")).map(el => el.src),
      ...performance.getEntriesByType("resource").map(e => e.name),
    ],
    captions: nav ? Array.from(nav.querySelectorAll("p.caption")).map(p => p.textContent.trim()) : [],
    links: Array.from(document.querySelectorAll("nav.bd-docs-nav a.reference.internal"))
        .map(a => a.href.split("#")[0]),
    launch: Array.from(document.querySelectorAll(".dropdown-launch-buttons a"))
        .map(a => ({title: [a.textContent.trim(), a.title, a.dataset.bsOriginalTitle].join(" "),
                    href: a.href})),
    lang: document.documentElement.lang,
    article: (document.querySelector("article") || document.body).innerText.slice(0, 3000),
    switch: Array.from(document.querySelectorAll(".language-switch a")).map(a => a.href),
    glyphs: glyphsDiffer(),
  });
}
function glyphsDiffer() {
  // Draw two different Chinese characters in the article's font. A font without them draws the same
  // empty box for both (tofu); a real font draws two different glyphs.
  const font = getComputedStyle(document.querySelector("article") || document.body).fontFamily;
  const draw = ch => {
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = 48;
    const ctx = canvas.getContext("2d");
    ctx.font = "40px " + font;
    ctx.fillText(ch, 2, 40);
    return Array.from(ctx.getImageData(0, 0, 48, 48).data).join(",");
  };
  const a = draw("剪"), b = draw("枝");
  return {differ: a !== b, inked: /[1-9]/.test(a), font: font};
}
(function wait() {
  const mj = window.MathJax;
  if (mj && mj.startup && mj.startup.promise) {
    mj.startup.promise.then(settled).then(collect, e => done({error: "MathJax failed: " + e}));
  } else if (!document.querySelector("span.math, div.math")) {
    settled().then(collect);
  } else if (Date.now() - start > 20000) {
    collect();  // MathJax never started (not loaded?): the math checks report it
  } else {
    setTimeout(wait, 100);
  }
})();
"""


# ------------------------------------------------------------------------------------------------
# Fixtures: a local web server, one browser, and each page visited once.

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output clean
        pass


@pytest.fixture(scope="module")
def server():
    """``_build/`` (both editions) served on an unused port of 127.0.0.1; yields the base URL."""
    assert (HTML / "index.html").is_file(), (
        f"no built book in {HTML}: run  jupyter-book build . -W -n --keep-going  first")
    assert (HTML_ZH / "index.html").is_file(), (
        f"no Chinese edition in {HTML_ZH}: run  python scripts/i18n.py build-zh  after the English build")
    handler = functools.partial(_QuietHandler, directory=str(BUILD))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium via /usr/bin/chromedriver (Selenium Manager never runs)."""
    for path in (CHROMIUM, CHROMEDRIVER):
        assert os.access(path, os.X_OK), (
            f"{path} not found: install Debian's browser with  apt-get install chromium chromium-driver")
    profile = tempfile.mkdtemp(prefix="book-browser-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-extensions", "--no-first-run", "--no-default-browser-check",
                 "--no-proxy-server", "--window-size=1280,1000", "--force-device-scale-factor=1",
                 "--lang=en-US", f"--user-data-dir={profile}",
                 # Offline, like CI and many students: no host name but 127.0.0.1 resolves.
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def pages(server, browser):
    """``{name: page report}`` for the pages of ``PAGES``, each opened once, with screenshots."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    cache = {}

    def visit(name):
        if name not in cache:
            cache[name] = _visit(browser, server, name)
        return cache[name]

    return visit


def _visit(driver, base, name):
    path, _ = PAGES[name]
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get(base + path)
    if name.startswith("introduction"):  # index.html redirects (meta refresh) to the root page of _toc.yml
        try:
            WebDriverWait(driver, 15).until(lambda d: d.current_url.endswith(INTRODUCTION))
        except TimeoutException:
            pytest.fail(f"index.html did not redirect to {INTRODUCTION} (it stayed at {driver.current_url})")
    report = driver.execute_async_script(COLLECT_JS)
    assert "error" not in report, f"{path}: {report['error']}"
    report["console"] = driver.get_log("browser")
    report["base"] = base
    report["screenshots"] = _screenshots(driver, name)
    return report


def _screenshots(driver, name):
    """The top of the page, plus its first figure and first display equation if it has them."""
    shots = [SCREENSHOTS / f"{name}.png"]
    driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(str(shots[0]))
    for kind, selector in (("figure", "article img[src*='_images/']"), ("math", "div.math")):
        if driver.execute_script(
                f"const el = document.querySelector(\"{selector}\");"
                "if (el) { el.scrollIntoView({block: 'center'}); } return !!el;"):
            shots.append(SCREENSHOTS / f"{name}-{kind}.png")
            driver.save_screenshot(str(shots[-1]))
    return shots


def _toc_files(entries):
    for entry in entries or ():
        if "file" in entry:
            yield entry["file"]
        yield from _toc_files(entry.get("sections"))
        yield from _toc_files(entry.get("chapters"))


def _is_local(url, base):
    return url.startswith(base) or url.startswith(("data:", "blob:", "about:"))


# ------------------------------------------------------------------------------------------------
# The checks.

@pytest.mark.parametrize("name", PAGES)
def test_page_opens_with_a_title_and_screenshots(pages, name):
    report = pages(name)
    assert report["title"].strip(), f"{PAGES[name][0]} has no <title>"
    for shot in report["screenshots"]:
        assert shot.stat().st_size > 5000, f"{shot} is (nearly) empty"


@pytest.mark.parametrize("name", PAGES_WITH_MATH)
def test_math_is_rendered_by_mathjax(pages, name):
    report = pages(name)
    assert report["math"] > 0, f"{PAGES[name][0]} should contain math but has no math elements"
    assert not report["untypeset"], (
        f"{len(report['untypeset'])} of {report['math']} math elements were not typeset by MathJax "
        f"(is MathJax loaded? it must be served from _static, not a CDN), e.g. {report['untypeset'][:3]}")
    assert report["mjx"] >= report["math"]
    assert not report["merrors"], f"MathJax could not parse: {report['merrors'][:5]}"


@pytest.mark.parametrize("name", PAGES)
def test_every_image_loads(pages, name):
    report = pages(name)
    broken = [img["src"] for img in report["images"]
              if not img["loaded"] and img["src"] not in ALLOWED_EXTERNAL]
    assert not broken, f"images that did not load on {PAGES[name][0]}: {broken}"


@pytest.mark.parametrize("name", PAGES_WITH_FIGURES)
def test_page_has_figures(pages, name):
    figures = pages(name)["figures"]
    assert figures, f"{PAGES[name][0]} should show computed figures but has none"
    if name.startswith("chapter"):  # chapters give every figure alt text (design §3)
        no_alt = [f["src"] for f in figures if not f["alt"].strip() or f["alt"].endswith(".png")]
        assert not no_alt, f"figures without alt text: {no_alt}"


@pytest.mark.parametrize("name", PAGES)
def test_nothing_is_loaded_from_the_network(pages, name):
    report = pages(name)
    external = sorted({url for url in report["resources"]
                       if not _is_local(url, report["base"]) and url not in ALLOWED_EXTERNAL})
    assert not external, (
        f"{PAGES[name][0]} loads {external} from the internet: the book must work offline "
        "(serve it from _static, or add it to ALLOWED_EXTERNAL with the reason it is harmless)")


@pytest.mark.parametrize("name", PAGES)
def test_browser_console_has_no_errors(pages, name):
    errors = [entry["message"] for entry in pages(name)["console"]
              if entry["level"] == "SEVERE"
              and not any(re.search(pattern, entry["message"]) for pattern, _ in ALLOWED_CONSOLE_ERRORS)]
    assert not errors, f"console errors on {PAGES[name][0]}:\n" + "\n".join(errors)


def _captions(suffix):
    """The parts' captions of ``_toc.yml`` as the edition shows them (the Chinese from its catalogue)."""
    captions = [part["caption"] for part in TOC["parts"]]
    if suffix == "-zh":
        catalogue = ROOT / "locales" / "zh_CN" / "LC_MESSAGES" / f"{TOC['root']}.po"
        translations = po_catalogue.translated_messages(catalogue)
        captions = [translations.get(caption, caption) for caption in captions]
    return captions


@pytest.mark.parametrize("suffix", EDITIONS)
def test_sidebar_lists_every_part_and_page(pages, suffix):
    report = pages("introduction" + suffix)
    captions = _captions(suffix)
    assert report["captions"] == captions, (
        f"sidebar parts {report['captions']} differ from _toc.yml's {captions}")
    linked = {urllib.parse.unquote(link) for link in report["links"]}
    folder = report["base"] + EDITIONS[suffix] + "/"
    missing = [file for file in [TOC["root"], *_toc_files(TOC["parts"])]
               if folder + file + ".html" not in linked]
    assert not missing, f"pages of _toc.yml missing from the sidebar: {missing}"


@pytest.mark.parametrize("name", CHINESE_PAGES)
def test_chinese_edition_is_in_chinese_and_its_characters_render(pages, name):
    report = pages(name)
    assert report["lang"] == "zh-CN", f"{PAGES[name][0]}: <html lang={report['lang']!r}>, expected 'zh-CN'"
    assert re.search(r"[\u4e00-\u9fff]", report["title"]), f"{PAGES[name][0]}: title {report['title']!r}"
    chinese = len(re.findall(r"[\u4e00-\u9fff]", report["article"]))
    assert chinese > 20, f"{PAGES[name][0]}: only {chinese} Chinese characters in the article's start"
    glyphs = report["glyphs"]
    assert glyphs["inked"] and glyphs["differ"], (
        f"{PAGES[name][0]}: Chinese characters are drawn as empty boxes in {glyphs['font']!r}: install a "
        "CJK font (apt-get install fonts-wqy-microhei; .ci/run does)")


@pytest.mark.parametrize("name", [n for n in PAGES if not n.startswith("introduction")])
def test_language_switch_leads_to_the_same_page_in_the_other_edition(pages, name):
    report = pages(name)
    other = name[:-3] if name.endswith("-zh") else name + "-zh"
    expected = report["base"] + PAGES[other][0]
    assert report["switch"] == [expected], (
        f"{PAGES[name][0]}: the language switch links to {report['switch']}, expected [{expected}]")


@pytest.mark.parametrize("name", NOTEBOOK_PAGES)
def test_notebook_pages_have_launch_buttons(pages, name):
    path = PAGES[name][0]
    notebook = path.split("/", 1)[1].replace(".html", ".ipynb")  # the same notebook in both editions
    repo = CONFIG["repository"]["url"].rstrip("/").removeprefix("https://github.com/")
    branch = CONFIG["repository"].get("branch", "main")
    buttons = CONFIG["launch_buttons"]
    expected = {
        "Binder": f"{buttons['binderhub_url'].rstrip('/')}/v2/gh/{repo}/{branch}?urlpath=lab/tree/{notebook}",
        "Colab": f"{buttons['colab_url'].rstrip('/')}/github/{repo}/blob/{branch}/{notebook}",
    }
    if buttons.get("jupyterhub_url"):
        expected["JupyterHub"] = buttons["jupyterhub_url"].rstrip("/") + "/hub/user-redirect/git-pull?"
    launch = pages(name)["launch"]
    for label, href in expected.items():
        found = [b["href"] for b in launch if label in b["title"]]
        assert found, f"{path}: no '{label}' launch button (buttons: {launch})"
        assert found[0].startswith(href), f"{path}: the {label} button points to {found[0]}, expected {href}"
