"""A blank lab run the way a student runs it: JupyterLab in a browser, Run ▸ Run All Cells.

Run it with the book's browser test (``.ci/run`` does)::

    python -m pytest browser_tests/test_lab_in_jupyterlab.py

It needs Debian's Chromium and ChromeDriver, like ``test_book_in_browser.py``, whose headless,
offline browser it reuses (no host name but 127.0.0.1 resolves). The test

1. copies the lab (``labs/``, exercises unfinished; and, in a second run, the Chinese lab of
   ``labs/zh/``) and the ``utils`` package with its message catalogue into a temporary course
   folder, so the repository is never written: the lab's setup cell puts the course folder on
   ``sys.path``, as it does in a clone of the course;
2. starts JupyterLab on 127.0.0.1 (a free port, a random token, no browser of its own, its
   settings, workspaces and runtime files in temporary folders);
3. opens the lab in headless Chromium, waits for the kernel, clicks the *Run* menu and its
   *Run All Cells* item, and waits until no cell is queued or running any more;
4. saves the notebook with Ctrl+S and reads it from disk.

What "ran without errors" means for a blank lab (design: an unfinished exercise never stops the
lab): every code cell has an execution count, 1, 2, … in order (JupyterLab stops a Run All at
the first error, so a gap is a cell that never ran); the only error outputs are
``NotImplementedError`` in cells tagged ``raises-exception`` (JupyterLab runs past those, as
nbval does); there is no stderr output outside such cells; every self-check cell
(``check.exercise_…``) says the exercise is *not done yet*; and the page shows exactly as many
error outputs as the file has.

Screenshots of the lab after the run go to ``_build/screenshots/`` (``jupyterlab-*.png``, and
``jupyterlab-zh-*.png`` for the Chinese lab).
"""

import os
import pathlib
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import nbformat
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait
from test_book_in_browser import browser  # noqa: F401  (the shared headless, offline Chromium fixture)

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "_build" / "screenshots"
LAB = "lab11_case_medicine.ipynb"   # the shortest blank lab (about 20 s on a 2-core CPU)
START_TIMEOUT_S = 120                # JupyterLab's server starting
LOAD_TIMEOUT_S = 120                 # the page loading and the kernel starting
RUN_TIMEOUT_S = 600                  # Run All: a guard against a hang, not a verdict on speed
# edition → (the lab's folder, what a self-check prints for an unfinished exercise)
EDITIONS = {"en": ("labs", "not done yet"), "zh": ("labs/zh", "尚未完成")}
UTILS_CATALOGUE = pathlib.Path("locales") / "zh_CN" / "LC_MESSAGES" / "code" / "utils.po"

# Every code cell's prompt, read from the page: "[ ]:" (never run), "[*]:" (queued or running)
# or "[n]:" (ran, as execution n). Also the number of error/stderr outputs the page shows.
PAGE_STATE_JS = r"""
const notebook = document.querySelector(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook");
if (!notebook) return null;
const indicator = document.querySelector(
    ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator");
return {
  prompts: Array.from(notebook.querySelectorAll(".jp-CodeCell .jp-InputArea-prompt"))
      .map(p => p.textContent.trim()),
  stderr: notebook.querySelectorAll(
      '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').length,
  kernel: indicator ? indicator.getAttribute("data-status") : null,
};
"""


# Screenshots after the run: file name → (code cell to show, where it lands in the window).
SHOTS = {"jupyterlab-lab-top.png": ("first", "start"),
         "jupyterlab-lab-self-check.png": ("first self-check", "center"),
         "jupyterlab-lab-end.png": ("last", "end")}
SCROLL_JS = r"""
const [which, block] = arguments;
const cells = Array.from(document.querySelectorAll(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell"));
const cell = which === "first" ? cells[0] : which === "last" ? cells[cells.length - 1]
    : cells.find(c => c.querySelector(".jp-InputArea-editor").textContent.startsWith("check.exercise_"));
(cell || cells[0]).scrollIntoView({block: block});
"""


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read()


@pytest.fixture(scope="module", params=list(EDITIONS))
def edition(request):
    """"en" (``labs/``) or "zh" (``labs/zh/``): each is run in JupyterLab."""
    return request.param


@pytest.fixture(scope="module")
def course(tmp_path_factory, edition):
    """A temporary course folder: ``<lab folder>/<LAB>``, a copy of ``utils`` and its message catalogue."""
    course = tmp_path_factory.mktemp("course")
    folder = course / EDITIONS[edition][0]
    folder.mkdir(parents=True)
    shutil.copy2(ROOT / EDITIONS[edition][0] / LAB, folder / LAB)
    shutil.copytree(ROOT / "utils", course / "utils", ignore=shutil.ignore_patterns("__pycache__"))
    (course / UTILS_CATALOGUE).parent.mkdir(parents=True)
    shutil.copy2(ROOT / UTILS_CATALOGUE, course / UTILS_CATALOGUE)
    return course


@pytest.fixture(scope="module")
def jupyterlab(course, tmp_path_factory):
    """JupyterLab serving ``course`` on 127.0.0.1; yields ``(base URL, token, log_tail)``."""
    state = tmp_path_factory.mktemp("jupyter")
    # No "Would you like to get notified about official Jupyter news?" toast over the notebook.
    notification = state / "settings" / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    notification /= "notification.jupyterlab-settings"
    notification.write_text('{"fetchNews": "false", "checkForUpdates": false}', encoding="utf-8")
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ,
           "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
           "JUPYTER_CONFIG_DIR": str(state / "config"), "JUPYTER_RUNTIME_DIR": str(state / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(state / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(state / "workspaces"), "IPYTHONDIR": str(state / "ipython")}
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={course}",
               "--LabApp.news_url=None",  # no announcements fetched from the internet
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
               "--LabApp.extension_manager=readonly"]  # no extension search on PyPI
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # CI containers run as root
        command.append("--allow-root")
    log = open(state / "jupyterlab.log", "w")  # closed at teardown
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=course,
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}/"

    def log_tail():
        log.flush()
        return (state / "jupyterlab.log").read_text(errors="replace")[-3000:]

    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        assert server.poll() is None, f"JupyterLab exited with {server.returncode}:\n{log_tail()}"
        try:
            if _get(f"{base}api/status?token={token}")[0] == 200:
                break
        except OSError:
            pass
        assert time.monotonic() < deadline, (
            f"JupyterLab did not answer within {START_TIMEOUT_S} s:\n{log_tail()}")
        time.sleep(0.5)
    try:
        yield base, token, log_tail
    finally:
        try:  # shuts the kernels down too
            request = urllib.request.Request(f"{base}api/shutdown?token={token}", method="POST")
            urllib.request.urlopen(request, timeout=10).close()
            server.wait(timeout=30)
        except Exception:
            os.killpg(server.pid, signal.SIGTERM)  # the server's own process group (new session)
            server.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def run_all(jupyterlab, browser, course, edition):  # noqa: F811 (browser is the imported fixture)
    """Open the lab, Run ▸ Run All Cells, wait, save; yields ``(page state, saved notebook, edition)``."""
    base, token, log_tail = jupyterlab
    folder = EDITIONS[edition][0]
    path = course / folder / LAB
    code_cells = sum(cell.cell_type == "code" for cell in nbformat.read(path, as_version=4).cells)
    driver = browser
    driver.get(f"{base}lab/tree/{folder}/{LAB}?token={token}")

    def state():
        return driver.execute_script(PAGE_STATE_JS)

    def wait(condition, seconds, what):
        try:
            return WebDriverWait(driver, seconds, poll_frequency=0.5).until(lambda d: condition())
        except Exception as error:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(SCREENSHOTS / "jupyterlab-failed.png"))
            pytest.fail(f"{what} ({type(error).__name__}); page state {state()}\n"
                        f"server log:\n{log_tail()}")

    wait(lambda: (s := state()) and len(s["prompts"]) == code_cells and s["kernel"] == "idle",
         LOAD_TIMEOUT_S, f"the lab did not open with {code_cells} code cells and an idle kernel")

    # The student's way: the Run menu, then its "Run All Cells" item.
    menu = driver.find_element(By.XPATH, "//div[contains(@class, 'lm-MenuBar-itemLabel')][text()='Run']")
    menu.click()
    item = WebDriverWait(driver, 10).until(expected_conditions.element_to_be_clickable(
        (By.XPATH, "//li[contains(@class, 'lm-Menu-item')]"
                   "[.//div[contains(@class, 'lm-Menu-itemLabel')][text()='Run All Cells']]")))
    item.click()
    started = time.monotonic()
    # Run All marks every code cell "[*]:" at once; it is over when no cell is queued or running
    # (after an error, JupyterLab un-queues the rest: they keep "[ ]:", which the tests report).
    wait(lambda: any(p != "[ ]:" for p in state()["prompts"]), 60, "Run All Cells did not start")
    wait(lambda: "[*]:" not in state()["prompts"], RUN_TIMEOUT_S,
         "Run All Cells did not finish: a cell is still queued or running")
    page = state()
    page["run_s"] = time.monotonic() - started

    # Save (Ctrl+S, as a student would) and read what JupyterLab wrote.
    before = path.stat().st_mtime_ns
    ActionChains(driver).key_down(Keys.CONTROL).send_keys("s").key_up(Keys.CONTROL).perform()
    wait(lambda: path.stat().st_mtime_ns != before
         and any(c.execution_count for c in nbformat.read(path, as_version=4).cells
                 if c.cell_type == "code"),
         60, "the notebook was not saved with its execution counts after Ctrl+S")

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name, (cell, block) in SHOTS.items():
        driver.execute_script(SCROLL_JS, cell, block)
        time.sleep(0.5)
        driver.save_screenshot(str(SCREENSHOTS / _shot(name, edition)))
    print(f"Run All Cells of {folder}/{LAB}: {page['run_s']:.1f} s on this machine")
    yield page, nbformat.read(path, as_version=4), edition


def _shot(name, edition):
    return name if edition == "en" else name.replace("jupyterlab-", f"jupyterlab-{edition}-")


def _code(nb):
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def _tagged(cell):
    return "raises-exception" in cell.metadata.get("tags", [])


def test_every_code_cell_ran_once_in_order(run_all):
    page, nb, _ = run_all
    counts = [cell.execution_count for cell in _code(nb)]
    assert counts == list(range(1, len(counts) + 1)), (
        f"execution counts {counts}: a gap is a cell that never ran (Run All stops at an error)")
    assert page["prompts"] == [f"[{n}]:" for n in counts], "the page's prompts differ from the saved file"


def test_no_error_output_except_unfinished_exercises(run_all):
    _, nb, _ = run_all
    for index, cell in enumerate(_code(nb)):
        for output in cell.outputs:
            where = f"code cell {index + 1}:\n{cell.source[:200]}"
            if output.output_type == "error":
                assert _tagged(cell) and output.ename == "NotImplementedError", (
                    f"{output.ename}: {output.evalue} in {where}")
            if output.output_type == "stream" and output.name == "stderr":
                assert _tagged(cell), f"stderr output {output.text[:300]!r} in {where}"


def test_the_page_shows_no_more_errors_than_expected(run_all):
    page, nb, _ = run_all
    expected = sum(output.output_type == "error" or output.get("name") == "stderr"
                   for cell in _code(nb) for output in cell.outputs)
    assert page["stderr"] == expected, f"the page shows {page['stderr']} error outputs, expected {expected}"


def test_self_checks_say_not_done_yet(run_all):
    _, nb, edition = run_all
    not_done = EDITIONS[edition][1]
    checks = [cell for cell in _code(nb) if cell.source.startswith("check.exercise_")]
    assert checks, f"{LAB} has no self-check cells"
    for cell in checks:
        text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        assert not_done in text, f"{cell.source}: expected '{not_done}', got {text[:300]!r}"


def test_screenshots_were_written(run_all):
    *_, edition = run_all
    for name in SHOTS:
        shot = SCREENSHOTS / _shot(name, edition)
        assert shot.stat().st_size > 5000, f"{shot.name} is (nearly) empty"
