"""Support for the real-browser test: Chromium, a private JupyterLab, and what the page shows.

``tests/test_browser.py`` tells the story (open a notebook, run it, move a slider); this module
holds the plumbing it needs, in three parts:

* **Chromium.** Debian's ``chromium`` package, driven by Playwright for Python through
  ``executable_path`` (Playwright's own browser download is never used). When the command is
  missing and we are root with apt-get, it is installed; elsewhere the test says plainly why it
  cannot run. Under ``CI=true`` nothing skips: a browser that cannot be had fails the test.
* **A private JupyterLab.** The server runs on 127.0.0.1 with a random port and a generated
  token, serves a temporary copy of the notebook (JupyterLab autosaves, so it must never see the
  repository's ``notebooks/``), and keeps its config, data, runtime and settings folders in that
  temporary directory too. Its one kernel is ipykernel under ``sys.executable`` -- the venv's
  python under ``make test`` -- with the repository first on ``PYTHONPATH``, so the notebook
  runs against the dosim under test.
* **The page.** Small functions that read JupyterLab's state: whether every code cell has run,
  which outputs are errors, and the bytes behind a widget ``Image``.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
INSTALL_TIMEOUT_S = 600
SERVER_START_TIMEOUT_S = 60
LOG_NAME = 'jupyterlab-server.log'
#: Chromium as a test runner: no first-run UI, and no background traffic, which this kind of
#: machine (no network beyond package registries) refuses connection by connection.
CHROMIUM_ARGS = (
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
)
# apt-get's words for "the package lists are missing or stale": only then is `apt-get update` due.
_STALE_LISTS = ('Unable to locate package', 'has no installation candidate', '404  Not Found',
                'Failed to fetch')


def on_ci() -> bool:
    return os.environ.get('CI', '').lower() == 'true'


def unavailable(reason: str) -> None:
    """Skip with *reason* -- or, under ``CI=true``, where nothing may skip, fail with it."""
    if on_ci():
        pytest.fail(f'CI=true, so this cannot be skipped: {reason}', pytrace=False)
    pytest.skip(reason)


# -- Chromium ---------------------------------------------------------------------------------


def chromium_executable() -> str:
    """The path of Debian's ``chromium``, installed with apt-get first if it is missing."""
    found = shutil.which('chromium')
    if found:
        return found
    if shutil.which('apt-get') is None:
        unavailable('chromium is not installed and there is no apt-get to install it with; '
                    'install Chromium so that `chromium` is on PATH')
    if os.geteuid() != 0:
        unavailable('chromium is not installed and only root may `apt-get install chromium`; '
                    'run `sudo apt-get install chromium` once')
    result = _apt_install_chromium()
    if result.returncode != 0 and any(s in result.stdout for s in _STALE_LISTS):
        update = _apt('update')
        if update.returncode != 0:
            pytest.fail(f'apt-get update failed:\n{update.stdout[-3000:]}', pytrace=False)
        result = _apt_install_chromium()
    found = shutil.which('chromium')
    if result.returncode != 0 or not found:
        pytest.fail(f'`apt-get install chromium` failed (exit {result.returncode}):\n'
                    f'{result.stdout[-3000:]}', pytrace=False)
    return found


def _apt_install_chromium() -> subprocess.CompletedProcess[str]:
    # Chromium's hard dependencies are all a headless browser needs; its recommendations
    # (printing, sandbox helper, desktop tools) would triple the download.
    return _apt('install', '-y', '--no-install-recommends', 'chromium')


def _apt(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, 'DEBIAN_FRONTEND': 'noninteractive'}
    return subprocess.run(
        ['apt-get', *args], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, timeout=INSTALL_TIMEOUT_S, check=False,
    )


# -- A private JupyterLab ---------------------------------------------------------------------


@dataclass
class Lab:
    """A running JupyterLab: where it listens, its token, and the file it logs to."""

    url: str
    token: str
    root: Path
    log: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    def request(self, method: str, path: str, *, token: bool = True) -> tuple[int, str, str]:
        """One HTTP request, redirects not followed: (status, Location header, body)."""
        host, port = self.url.removeprefix('http://').split(':')
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        headers = {'Authorization': f'token {self.token}'} if token else {}
        try:
            conn.request(method, path, headers=headers)
            response = conn.getresponse()
            body = response.read().decode('utf-8', 'replace')
            return response.status, response.getheader('Location') or '', body
        finally:
            conn.close()

    def log_tail(self, lines: int = 60) -> str:
        if not self.log.exists():
            return '(no server log)'
        return '\n'.join(self.log.read_text(errors='replace').splitlines()[-lines:])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def jupyterlab(workdir: Path) -> Iterator[Lab]:
    """Start JupyterLab serving *workdir*/``root``; stop it, and its kernels, on the way out."""
    root = workdir / 'root'
    root.mkdir(exist_ok=True)
    env = _isolated_env(workdir)
    port, token = free_port(), secrets.token_hex(24)
    command = [
        sys.executable, '-m', 'jupyterlab', '--no-browser',
        f'--ServerApp.root_dir={root}', '--ServerApp.ip=127.0.0.1',
        f'--ServerApp.port={port}', '--ServerApp.port_retries=0',
        f'--IdentityProvider.token={token}', '--ServerApp.terminals_enabled=False',
        f'--LabApp.user_settings_dir={workdir / "settings"}',
        f'--LabApp.workspaces_dir={workdir / "workspaces"}',
        # window.jupyterapp: the test reads cell models through it (as JupyterLab's own
        # Galata tests do); it is what the page shows, minus guessing at CSS classes.
        '--LabApp.expose_app_in_browser=True',
        '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate',
    ]
    if os.geteuid() == 0:
        command.append('--allow-root')
    log = workdir / LOG_NAME
    with log.open('wb') as out:
        process = subprocess.Popen(command, cwd=root, env=env, stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    lab = Lab(f'http://127.0.0.1:{port}', token, root, log, process)
    try:
        _wait_until_serving(lab)
        yield lab
    finally:
        _stop(lab)


def _isolated_env(workdir: Path) -> dict[str, str]:
    """The server's environment: Jupyter's folders under *workdir*, one python3 kernel (this
    interpreter), the repository importable first, and settings that keep the page quiet."""
    env = {k: v for k, v in os.environ.items() if not k.startswith('JUPYTER')}
    for name in ('config', 'data', 'runtime', 'ipython'):
        (workdir / name).mkdir(exist_ok=True)
    env.update(
        JUPYTER_CONFIG_DIR=str(workdir / 'config'), JUPYTER_DATA_DIR=str(workdir / 'data'),
        JUPYTER_RUNTIME_DIR=str(workdir / 'runtime'), IPYTHONDIR=str(workdir / 'ipython'),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get('PYTHONPATH')])),
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get('PATH', '')]),
    )
    # A person's JupyterLab draws plots inline; CI's MPLBACKEND=Agg is for headless scripts.
    env.pop('MPLBACKEND', None)
    # The user data folder comes first on Jupyter's kernel path, so this spec is the python3.
    from ipykernel.kernelspec import get_kernel_dict

    spec = workdir / 'data' / 'kernels' / 'python3' / 'kernel.json'
    spec.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text(json.dumps(get_kernel_dict()))
    settings = {
        # Every cell stays in the page, so the test sees all prompts and outputs.
        '@jupyterlab/notebook-extension/tracker': {'windowingMode': 'none'},
        # No "Would you like to get notified about official Jupyter news?" toast.
        '@jupyterlab/apputils-extension/notification': {'fetchNews': 'false',
                                                        'checkForUpdates': False},
    }
    for plugin, values in settings.items():
        path = workdir / 'settings' / f'{plugin}.jupyterlab-settings'
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    return env


def _wait_until_serving(lab: Lab) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if lab.process.poll() is not None:
            raise AssertionError(f'JupyterLab exited with status {lab.process.returncode} '
                                 f'before serving; its log:\n{lab.log_tail()}')
        with contextlib.suppress(OSError):
            if lab.request('GET', '/api/status')[0] == 200:
                return
        time.sleep(0.25)
    raise AssertionError(f'JupyterLab did not answer on {lab.url} within '
                         f'{SERVER_START_TIMEOUT_S} s; its log:\n{lab.log_tail()}')


def _stop(lab: Lab) -> None:
    """Ask the server to shut down (it stops its kernels); then end its process group."""
    with contextlib.suppress(OSError):
        lab.request('POST', '/api/shutdown')
    with contextlib.suppress(subprocess.TimeoutExpired):
        lab.process.wait(timeout=15)
    for sig, wait_s in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(lab.process.pid, sig)  # the group this test started: server and kernels
        except ProcessLookupError:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            lab.process.wait(timeout=wait_s)


# -- The page ---------------------------------------------------------------------------------

# The notebook panel showing *path*, found through the exposed application.
_PANEL_JS = """(path) => Array.from(window.jupyterapp.shell.widgets('main'))
    .find(w => w.context && w.context.path === path && w.content && w.sessionContext)"""

#: JavaScript returning ``null`` until the notebook panel exists, then its run state: the
#: kernel's status, each code cell's prompt (``[3]:``, ``[*]:``, ``[ ]:``), and every error
#: output (from the cell models, because JupyterLab draws an error like any stderr text).
RUN_STATE_JS = f"""(path) => {{
  if (!window.jupyterapp) return null;
  const panel = ({_PANEL_JS})(path);
  if (!panel) return null;
  const ctx = panel.sessionContext;
  const kernel = ctx.session && ctx.session.kernel;
  const state = {{kernel: kernel ? kernel.status : 'none', ready: ctx.isReady,
                 prompts: [], errors: []}};
  panel.content.widgets.forEach((cell, index) => {{
    if (cell.model.type !== 'code') return;
    const prompt = cell.node.querySelector('.jp-InputPrompt');
    state.prompts.push(prompt ? prompt.textContent.trim() : '?');
    for (let i = 0; i < cell.model.outputs.length; i++) {{
      const out = cell.model.outputs.get(i).toJSON();
      if (out.output_type === 'error') {{
        state.errors.push({{cell: index, ename: out.ename, evalue: out.evalue,
                           traceback: (out.traceback || []).join('\\n')}});
      }}
    }}
    cell.node.querySelectorAll('.jp-OutputArea-output').forEach(node => {{
      const text = node.textContent || '';
      if (text.includes('Error displaying widget') || text.includes('Failed to load model')) {{
        state.errors.push({{cell: index, ename: 'WidgetError', evalue: text.trim().slice(0, 300),
                           traceback: ''}});
      }}
    }});
  }});
  return state;
}}"""

#: JavaScript: whether the notebook at ``path`` is open with its kernel ready and idle.
KERNEL_IDLE_JS = f"""(path) => {{
  const s = ({RUN_STATE_JS})(path);
  return !!s && s.ready && s.kernel === 'idle';
}}"""

#: JavaScript: the DOM id of the notebook panel showing ``path``.
PANEL_ID_JS = f"(path) => {{ const p = ({_PANEL_JS})(path); return p ? p.id : null; }}"

#: JavaScript taking an ``<img>`` and returning ``[src, sha256 hex of its bytes, byte count]``.
IMAGE_DIGEST_JS = """async (img) => {
  const bytes = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return [img.src, Array.from(digest, b => b.toString(16).padStart(2, '0')).join(''),
          bytes.length];
}"""


def settled(state: dict[str, Any] | None) -> bool:
    """Whether a run-all has finished: the kernel idle, nothing queued or running, and every
    code cell numbered -- or an error stopped the run (JupyterLab then leaves the rest unrun)."""
    if not state or not state['ready'] or state['kernel'] != 'idle':
        return False
    if any(p == '[*]:' for p in state['prompts']):
        return False
    return bool(state['errors']) or all(is_numbered(p) for p in state['prompts'])


def is_numbered(prompt: str) -> bool:
    return prompt.startswith('[') and prompt.endswith(']:') and prompt[1:-2].isdigit()


def describe_errors(errors: list[dict[str, Any]]) -> str:
    return '\n\n'.join(
        f'cell {e["cell"]} (from 0): {e["ename"]}: {e["evalue"]}\n{_strip_ansi(e["traceback"])}'
        for e in errors
    )


def _strip_ansi(text: str) -> str:
    import re

    return re.sub(r'\x1b\[[0-9;]*m', '', text)
