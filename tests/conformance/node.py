"""Find Node.js and install the pinned Miniflare the conformance suite drives.

The suite runs each scenario twice: in the real runtime (workerd, through Miniflare 4, from
``driver.mjs``) and in dosim. Miniflare is pinned in ``package.json`` beside this file and
installed into ``tests/conformance/.cache/`` (git-ignored), never globally::

    npm install --prefix tests/conformance/.cache --no-audit --no-fund

An install that already holds the pinned version is reused, so only the first run pays for it.
:func:`ensure` returns a :class:`NodeSetup`, or raises :class:`NodeMissingError` with a message that
says what is missing and how to get it; the test session turns that into a skip, or a failure
when ``CI=true``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ['CACHE', 'HERE', 'MIN_NODE', 'NodeMissingError', 'NodeSetup', 'ensure', 'pinned_version']

HERE = Path(__file__).resolve().parent
CACHE = HERE / '.cache'
MIN_NODE = 18
INSTALL_HINT = ('install Node.js >= 18 and npm, e.g. from the distribution: '
                '`apt-get install nodejs npm`')


class NodeMissingError(RuntimeError):
    """Node, npm or Miniflare is not available; the message says what to do."""


@dataclass(frozen=True)
class NodeSetup:
    node: str           # path of the node executable
    version: str        # e.g. 'v20.20.2'
    miniflare: str      # the installed Miniflare version
    cache: Path         # where node_modules lives


def pinned_version() -> str:
    """The exact Miniflare version ``package.json`` pins."""
    spec = json.loads((HERE / 'package.json').read_text())['dependencies']['miniflare']
    return str(spec)


def _node_version(node: str) -> tuple[str, int]:
    out = subprocess.run([node, '--version'], capture_output=True, text=True, timeout=30)
    text = out.stdout.strip()
    match = re.match(r'v(\d+)\.', text)
    if out.returncode != 0 or match is None:
        raise NodeMissingError(f'`{node} --version` failed ({text or out.stderr.strip()}); '
                          f'{INSTALL_HINT}')
    return text, int(match.group(1))


def installed_miniflare(cache: Path = CACHE) -> str | None:
    """The Miniflare version installed in *cache*, or ``None``."""
    manifest = cache / 'node_modules' / 'miniflare' / 'package.json'
    if not manifest.is_file():
        return None
    return str(json.loads(manifest.read_text()).get('version'))


def ensure(cache: Path = CACHE) -> NodeSetup:
    """Check Node (>= 18) and npm; install the pinned Miniflare into *cache* if needed."""
    node = shutil.which('node')
    npm = shutil.which('npm')
    missing = [name for name, path in (('node', node), ('npm', npm)) if path is None]
    if missing:
        raise NodeMissingError(f'{" and ".join(missing)} not found on PATH; {INSTALL_HINT}')
    assert node is not None
    assert npm is not None
    version, major = _node_version(node)
    if major < MIN_NODE:
        raise NodeMissingError(f'node {version} is too old (need >= {MIN_NODE}); {INSTALL_HINT}')
    want = pinned_version()
    if installed_miniflare(cache) != want:
        cache.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(HERE / 'package.json', cache / 'package.json')
        out = subprocess.run(
            [npm, 'install', '--prefix', str(cache), '--no-audit', '--no-fund'],
            capture_output=True, text=True, timeout=600,
        )
        got = installed_miniflare(cache)
        if out.returncode != 0 or got != want:
            tail = (out.stderr or out.stdout).strip()[-1500:]
            raise NodeMissingError(f'`npm install` of miniflare {want} into {cache} failed '
                              f'(exit {out.returncode}, found {got}): {tail}')
    return NodeSetup(node=node, version=version, miniflare=want, cache=cache)


if __name__ == '__main__':
    print(ensure())
