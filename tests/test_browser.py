"""A learner's view: the notebook runs in JupyterLab, and its explorer redraws when a slider moves.

``test_notebooks.py`` runs every notebook with nbclient. That proves the Python runs, but not what
a learner sees: a widget exists only as a model in the kernel until a browser draws it, and an
explorer works only if a slider moved in the page reaches the kernel, whose observer draws a new
PNG that travels back to the page. This test drives that whole round trip the way a person would:

1. start JupyterLab on 127.0.0.1 with token authentication (and check that a request without
   the token is turned away);
2. open ``notebooks/03_alarms_and_agent_loops.ipynb`` -- a temporary copy, with one extra cell
   at the end that prints the kernel's ``sys.prefix`` and where it found dosim -- in headless
   Chromium, and wait for the kernel;
3. Run > Run All Cells, wait until every code cell has its execution count, and check that no
   cell shows an error (warnings on stderr are allowed);
4. find the first explorer (an output with a slider and an ``Image``), move its slider with the
   keyboard, and check that the image's PNG bytes changed.

Screenshots before and after the move (and at a failure) go to ``out/browser/``, with the
server's log. Debian's ``chromium`` is installed when missing (see ``browser_lab.py``). Run just
this test with ``make test PYTEST_ARGS='-m browser'``.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser_lab import (
    CHROMIUM_ARGS,
    IMAGE_DIGEST_JS,
    KERNEL_IDLE_JS,
    LOG_NAME,
    PANEL_ID_JS,
    ROOT,
    RUN_STATE_JS,
    Lab,
    chromium_executable,
    describe_errors,
    jupyterlab,
    settled,
    unavailable,
)

NOTEBOOK = ROOT / 'notebooks' / '03_alarms_and_agent_loops.ipynb'
ARTEFACTS = ROOT / 'out' / 'browser'
VIEWPORT = {'width': 1280, 'height': 1024}
KERNEL_TIMEOUT_S = 60
RUN_ALL_TIMEOUT_S = 120
REDRAW_TIMEOUT_S = 30
SLIDER_STEPS = 3
#: The cell appended to the copy: the kernel must be this interpreter, importing this dosim.
PROBE = "import sys, dosim\nprint(sys.prefix, dosim.__file__, sep='\\n', end='')"
#: A drawn widget Image: its src is an object URL (or a data URL) of the PNG.
_DRAWN = re.compile(r'^(blob|data):')
EXPLORER = '.jp-OutputArea-output:has(.widget-slider .noUi-handle):has(img.widget-image)'

pytestmark = pytest.mark.browser


@pytest.fixture(scope='module')
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    workdir = tmp_path_factory.mktemp('jupyterlab')
    try:
        with jupyterlab(workdir) as running:
            yield running
    finally:  # the whole log, shutdown included, is kept with the screenshots
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            shutil.copy(workdir / LOG_NAME, ARTEFACTS / LOG_NAME)


@pytest.fixture(scope='module')
def browser() -> Iterator[Any]:
    """Headless Debian Chromium under Playwright (never Playwright's own browser build)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        unavailable(f'Python playwright is missing ({exc}); it comes with `pip install -e .[dev]`')
    executable = chromium_executable()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=executable, headless=True, args=list(CHROMIUM_ARGS))
        try:
            yield chromium
        finally:
            chromium.close()


def test_the_server_turns_away_requests_without_its_token(lab: Lab):
    status, _, _ = lab.request('GET', '/api/contents', token=False)
    assert status == 403, f'GET /api/contents without the token answered {status}, not 403'
    status, location, _ = lab.request('GET', '/lab', token=False)
    assert (status, location.split('?')[0]) == (302, '/login'), (
        f'GET /lab without the token answered {status} {location!r}, not a redirect to /login')
    status, _, body = lab.request('GET', '/api/contents')
    assert status == 200, f'GET /api/contents with the token answered {status}: {body[:300]}'


def test_explorer_redraws_its_plot_when_its_slider_moves(lab: Lab, request: pytest.FixtureRequest):
    if not NOTEBOOK.exists():
        pytest.fail(f'{NOTEBOOK} does not exist: this test opens it and moves the slider of '
                    'its first dosim.widgets explorer', pytrace=False)
    browser = request.getfixturevalue('browser')  # only now: it may install Chromium
    name = copy_with_probe(NOTEBOOK, lab.root)
    shots = Screenshots(ARTEFACTS, NOTEBOOK.stem)
    with opened(browser, lab, name, shots) as panel:
        state = run_all_cells(panel, name)
        if state['errors']:  # show the first failing cell in the failure screenshot
            panel.locator('.jp-Cell').nth(state['errors'][0]['cell']).scroll_into_view_if_needed()
            raise AssertionError(
                f'cells show errors after Run All:\n{describe_errors(state["errors"])}')
        probe = panel.locator('.jp-CodeCell').last.locator('.jp-OutputArea-output')
        expected = f'{sys.prefix}\n{ROOT / "dosim" / "__init__.py"}'
        assert probe.inner_text().strip() == expected, (
            f'the kernel is not this interpreter with this dosim: it printed '
            f'{probe.inner_text()!r}, expected {expected!r}')
        move_slider_and_check_redraw(panel, name, shots)


def test_the_harness_reports_a_failing_cell_but_not_a_warning(lab: Lab, browser: Any):
    """The checks above can fail: a cell that raises is reported with its exception, Run All
    stops there, and a warning printed on stderr does not count as an error."""
    cells = ["import warnings\nwarnings.warn('only a warning')", '1 / 0  # the broken cell',
             "print('never runs')"]
    nb = {'nbformat': 4, 'nbformat_minor': 4, 'metadata': {}, 'cells': [
        {'cell_type': 'code', 'execution_count': None, 'metadata': {}, 'outputs': [],
         'source': source} for source in cells]}
    scratch = lab.root.parent / 'broken.ipynb'
    scratch.write_text(json.dumps(nb), encoding='utf-8')
    with opened(browser, lab, copy_with_probe(scratch, lab.root), Screenshots(
            ARTEFACTS, 'harness-broken')) as panel:
        state = run_all_cells(panel, scratch.name)
        warning = panel.locator('.jp-Cell').first.locator(
            '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
        assert 'only a warning' in warning.inner_text()
    assert [(e['cell'], e['ename'], e['evalue']) for e in state['errors']] == [
        (1, 'ZeroDivisionError', 'division by zero')]
    assert 'the broken cell' in describe_errors(state['errors'])
    assert state['prompts'] == ['[1]:', '[2]:', '[ ]:', '[ ]:']  # the last one is the probe


def move_slider_and_check_redraw(panel: Any, name: str, shots: Screenshots) -> None:
    """Move the first explorer's slider by keyboard; its Image must get different PNG bytes."""
    from playwright.sync_api import expect

    page = panel.page
    explorer = panel.locator(EXPLORER).first
    expect(explorer, 'no output holds both a slider and a widget Image (an explorer)'
           ).to_be_attached(timeout=REDRAW_TIMEOUT_S * 1000)
    explorer.scroll_into_view_if_needed()
    image = explorer.locator('img.widget-image').first
    expect(image).to_have_attribute('src', _DRAWN, timeout=REDRAW_TIMEOUT_S * 1000)
    handle = explorer.locator('.widget-slider .noUi-handle').first
    src, digest, size = image.evaluate(IMAGE_DIGEST_JS)
    value = handle.get_attribute('aria-valuenow')
    before = shots.take(page, 'before')
    at_max = float(value or 0) >= float(handle.get_attribute('aria-valuemax') or 0)
    handle.focus()
    for _ in range(SLIDER_STEPS):
        handle.press('ArrowLeft' if at_max else 'ArrowRight')
    moved = handle.get_attribute('aria-valuenow')
    assert moved != value, f'the slider did not move from {value} (screenshot: {before})'
    expect(image, f'the Image did not change within {REDRAW_TIMEOUT_S} s of the slider moving '
           f'from {value} to {moved} (errors in widget callbacks go to the Log Console, not to '
           f'a cell; screenshot before the move: {before})',
           ).not_to_have_attribute('src', src, timeout=REDRAW_TIMEOUT_S * 1000)
    state = wait_until_settled(page, name, REDRAW_TIMEOUT_S, quiet_s=1.5, image=image)
    _, new_digest, _ = image.evaluate(IMAGE_DIGEST_JS)
    after = shots.take(page, 'after')
    assert new_digest != digest, (
        f'moving the slider from {value} to {moved} changed the image URL but not its PNG '
        f'({size} bytes, sha256 {digest[:12]}); screenshots: {before}, {after}')
    if state['errors']:
        raise AssertionError(f'errors after the move:\n{describe_errors(state["errors"])}')


def copy_with_probe(notebook: Path, root: Path) -> str:
    """Copy *notebook* into the server's *root* with the PROBE cell appended; return its name.
    A copy without kernel metadata gets the python3 kernel, so no kernel dialog appears."""
    nb = json.loads(notebook.read_text(encoding='utf-8'))
    probe = {'cell_type': 'code', 'execution_count': None, 'metadata': {}, 'outputs': [],
             'source': PROBE}
    if (nb.get('nbformat'), nb.get('nbformat_minor', 0)) >= (4, 5):
        probe['id'] = 'browser-test-probe'  # cell ids are required from nbformat 4.5 on
    nb['cells'].append(probe)
    nb.setdefault('metadata', {}).setdefault(
        'kernelspec', {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'})
    (root / notebook.name).write_text(json.dumps(nb), encoding='utf-8')
    return notebook.name


def run_all_cells(panel: Any, name: str) -> dict[str, Any]:
    """Run > Run All Cells, as a person clicks it, and wait for the run to end; return the
    final run state. The menu item is found by the command it runs (``runmenu:run-all``, which
    is ``notebook:run-all-cells`` in a notebook), not by its label."""
    page = panel.page
    page.locator('.lm-MenuBar-item', has_text='Run').first.click()
    page.locator('#jp-mainmenu-run .lm-Menu-item[data-command="runmenu:run-all"]').click()
    return wait_until_settled(page, name, RUN_ALL_TIMEOUT_S)


def wait_until_settled(page: Any, name: str, timeout_s: float, *, quiet_s: float = 0.0,
                       image: Any = None) -> dict[str, Any]:
    """Poll the run state until ``settled`` holds -- and, with *quiet_s*, has held with the
    *image* unchanged for that long (the kernel may still be answering later slider steps)."""
    deadline = time.monotonic() + timeout_s
    state: dict[str, Any] | None = None
    calm_since, last_src = None, None
    while time.monotonic() < deadline:
        state = page.evaluate(RUN_STATE_JS, name)
        src = image.get_attribute('src') if image is not None else None
        if settled(state) and src == last_src:
            calm_since = calm_since or time.monotonic()
            if time.monotonic() - calm_since >= quiet_s:
                return state
        else:
            calm_since = None
        last_src = src
        page.wait_for_timeout(250)
    raise AssertionError(f'the notebook did not settle within {timeout_s} s; last state: '
                         f'kernel {state and state["kernel"]}, prompts '
                         f'{state and state["prompts"]}')


class Screenshots:
    """Full-page PNGs named ``<notebook>-<label>.png`` in *folder*; old ones are removed."""

    def __init__(self, folder: Path, stem: str) -> None:
        self.folder, self.stem = folder, stem
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob(f'{stem}-*.png'):
            old.unlink()

    def take(self, page: Any, label: str) -> Path:
        path = self.folder / f'{self.stem}-{label}.png'
        page.screenshot(path=str(path), full_page=True)
        return path.relative_to(ROOT)


@contextlib.contextmanager
def opened(browser: Any, lab: Lab, name: str, shots: Screenshots) -> Iterator[Any]:
    """Open the notebook *name* in a new page and wait for its kernel; yield the notebook's
    panel (a Playwright locator; its ``.page`` is the page), and close the page on the way
    out. A failure inside the block is reported by ``failure_report``."""
    page = browser.new_page(viewport=VIEWPORT)
    console: list[str] = []
    page.on('console', lambda m: m.type == 'error' and console.append(m.text))
    page.on('pageerror', lambda e: console.append(f'uncaught: {e}'))
    try:
        with failure_report(page, lab, shots, console):
            # ?reset: a fresh workspace, not the tabs an earlier test left open
            page.goto(f'{lab.url}/lab/tree/{name}?reset&token={lab.token}')
            page.wait_for_function(KERNEL_IDLE_JS, arg=name, timeout=KERNEL_TIMEOUT_S * 1000)
            yield page.locator(f'[id="{page.evaluate(PANEL_ID_JS, name)}"]')
    finally:
        page.close()


@contextlib.contextmanager
def failure_report(page: Any, lab: Lab, shots: Screenshots, console: list[str]) -> Iterator[None]:
    """Turn a failure inside the block into one message with a screenshot, the browser's
    console errors and the tail of the JupyterLab server's log."""
    try:
        yield
        return
    except Exception as exc:  # an AssertionError, or Playwright's TimeoutError or Error
        problem = f'{type(exc).__name__}: {exc}'
    try:
        shot = shots.take(page, 'failure')
    except Exception as exc:
        shot = f'(none: {exc})'
    message = (
        f'{problem}\n\nscreenshot: {shot}\n'
        f'browser console errors:\n' + ('\n'.join(console[-20:]) or '(none)') +
        f'\n\nJupyterLab server log (all of it in {ARTEFACTS.relative_to(ROOT)}/'
        f'{lab.log.name}):\n{lab.log_tail()}')
    # `from None`: the message already says what went wrong; don't print it twice, chained.
    raise pytest.fail.Exception(message, pytrace=False) from None
