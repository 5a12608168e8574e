"""The runtime's hot path compiled with mypyc: the same source, run as C.

dosim is plain Python, and runs as plain Python anywhere. Where a C compiler and the Python
headers are at hand, ``dosim native build`` (which every ``make`` target runs after
setting up the venv) also compiles the modules in :data:`MODULES` -- the ones every request,
alarm run and storage call passes through -- with `mypyc <https://mypyc.readthedocs.io>`_,
the compiler that builds mypy and black. Nothing about the model changes: the extension
modules are made from the very ``.py`` files next to them, and the test suite runs against
both (``make test``: once compiled, once with ``DOSIM_PURE=1``). An agent fleet runs about
1.5 times as fast (``bench/README.md``).

Python imports an extension module (``dosim/storage.cpython-311-x86_64-linux-gnu.so``) in
preference to the source beside it. Two guards keep that honest:

* the build writes :data:`MANIFEST`, a hash of every source it compiled. When a source no
  longer matches (someone edited ``dosim/storage.py`` since), or the interpreter is another
  one, dosim imports all of :data:`MODULES` from their sources, and :func:`status` says why;
* ``DOSIM_PURE=1`` in the environment does the same on purpose.

What compiling costs besides a minute of ``make``: mypyc keeps no docstrings, so ``help()``
(or ``?`` in Jupyter) on a compiled function or class, ``ctx.storage.get`` say, shows its
signature only. The sources have them, and under ``DOSIM_PURE=1`` so does ``help()``.

Which way a process runs is decided once, when ``dosim`` is first imported: its
``__init__`` imports this module before anything else, and this module calls :func:`choose`
as it loads. ``dosim native status`` prints the :func:`status`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import sys
import sysconfig
import tempfile
from importlib.machinery import EXTENSION_SUFFIXES, ModuleSpec
from pathlib import Path
from typing import Any

__all__ = ['MANIFEST', 'MODULES', 'build', 'choose', 'compiled', 'status']

#: the modules compiled, all in the package ``dosim``: the lifecycle, an invocation's driver,
#: storage with its write queue, alarms, and the timers, event queue and event loop they share
MODULES = ('heap', 'loop', 'context', 'lifecycle', 'actor', 'invocation', 'storage', 'writequeue',
           'alarms')
GROUP = 'dosim._native'   # the shared library that holds them all (dosim/_native__mypyc...)
HERE = Path(__file__).resolve().parent
MANIFEST = HERE / '_native.json'

_why_pure: str | None = None   # set by choose()


def _digest(name: str) -> str:
    return hashlib.sha256((HERE / f'{name}.py').read_bytes()).hexdigest()


def _built_files() -> list[Path]:
    """The extension modules of a build, wherever one was made (any interpreter)."""
    stems = (*MODULES, GROUP.rsplit('.', 1)[1] + '__mypyc')
    return [p for stem in stems for p in HERE.glob(f'{stem}.*') if p.suffix in ('.so', '.pyd')]


def _reason_to_stay_pure(honour_env: bool = True) -> str | None:
    """Why this process must import :data:`MODULES` from source, or None if it may use the
    compiled build (*honour_env*: count ``DOSIM_PURE`` as a reason)."""
    if honour_env and os.environ.get('DOSIM_PURE', '') not in ('', '0'):
        return 'DOSIM_PURE is set'
    if not _built_files():
        return 'not built (dosim native build)'
    try:
        manifest = json.loads(MANIFEST.read_text())
    except (OSError, ValueError):
        return f'{MANIFEST.name} is missing or unreadable: the build is of unknown origin'
    if manifest.get('cache_tag') != sys.implementation.cache_tag or \
            manifest.get('ext_suffix') != EXTENSION_SUFFIXES[0]:
        return f'built for {manifest.get("cache_tag")}, not {sys.implementation.cache_tag}'
    sources = manifest.get('sources', {})
    changed = [m for m in MODULES if sources.get(m) != _digest(m)]
    if changed:
        return 'sources changed since the build: ' + ', '.join(f'{m}.py' for m in changed)
    return None


class _FromSource:
    """An import hook that finds :data:`MODULES` as source files, ahead of Python's own
    finder (which would take the extension module beside each)."""

    @staticmethod
    def find_spec(fullname: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        package, _, name = fullname.rpartition('.')
        if package != 'dosim' or name not in MODULES:
            return None
        return importlib.util.spec_from_file_location(fullname, HERE / f'{name}.py')


def choose() -> None:
    """Decide, once per process, whether :data:`MODULES` come compiled or from source."""
    global _why_pure
    if _why_pure is not None or any(f'dosim.{m}' in sys.modules for m in MODULES):
        return   # decided already (or too late to change)
    _why_pure = _reason_to_stay_pure() or ''
    if _why_pure:
        sys.meta_path.insert(0, _FromSource)


def compiled() -> tuple[str, ...]:
    """The modules of :data:`MODULES` this process imported compiled."""
    return tuple(m for m in MODULES if (mod := sys.modules.get(f'dosim.{m}')) is not None
                 and not str(getattr(mod, '__file__', '')).endswith('.py'))


def status() -> str:
    """One line: compiled, or from source and why."""
    done = compiled()
    if len(done) == len(MODULES):
        return f'compiled with mypyc: {", ".join(done)}'
    if done:
        return f'partly compiled ({", ".join(done)}): import dosim before its submodules'
    return f'from source: {_why_pure or "not built"}'


# -- building ---------------------------------------------------------------------------------
def _missing_tools() -> str | None:
    """What the build needs and this machine lacks, or None."""
    cc = (sysconfig.get_config_var('CC') or 'cc').split()[0]
    if shutil.which(cc) is None:
        return f'no C compiler ({cc!r} not found)'
    include = sysconfig.get_paths()['include']
    if not (Path(include) / 'Python.h').exists():
        return f'no Python headers (no Python.h in {include})'
    for module in ('mypyc', 'setuptools'):
        if importlib.util.find_spec(module) is None:
            return f'{module} is not installed (pip install -e .[fast])'
    return None


def _restore(fds: list[int], cwd: Path) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fds[0], 1)
    os.dup2(fds[1], 2)
    for fd in fds:
        os.close(fd)
    os.chdir(cwd)


def build(quiet: bool = True) -> str | None:
    """Compile :data:`MODULES` next to their sources and write :data:`MANIFEST`. Returns
    None when built, else why it could not build (the sources then run as they are)."""
    missing = _missing_tools()
    if missing is not None:
        return missing
    print(f'dosim.native: compiling {len(MODULES)} modules with mypyc (about a minute) ...',
          flush=True)
    from mypyc.build import mypycify
    from setuptools import setup

    for old in [*_built_files(), MANIFEST]:
        old.unlink(missing_ok=True)
    sources = {m: _digest(m) for m in MODULES}
    with tempfile.TemporaryDirectory(prefix='dosim-native-') as tmp:
        # built in a scratch directory that holds only a link to the package (setuptools
        # places the modules relative to it, and finds no pyproject.toml to read there)
        (Path(tmp) / 'dosim').symlink_to(HERE)
        log = Path(tmp) / 'build.log'
        cwd, saved = Path.cwd(), [os.dup(1), os.dup(2)]
        os.chdir(tmp)
        try:
            if quiet:   # the compiler's chatter goes to the log, shown only on failure
                sys.stdout.flush()
                sys.stderr.flush()
                with log.open('w') as sink:
                    os.dup2(sink.fileno(), 1)
                    os.dup2(sink.fileno(), 2)
            setup(
                name='dosim-native',
                ext_modules=mypycify(
                    [f'dosim/{m}.py' for m in MODULES]
                    + ['--ignore-missing-imports', '--follow-imports=silent'],
                    group_name=GROUP, target_dir='c',
                ),
                script_args=['build_ext', '--inplace', '--build-temp', 't', '--build-lib', 'l'],
            )
        except (Exception, SystemExit) as exc:
            _restore(saved, cwd)
            if quiet:
                print(*log.read_text().splitlines()[-40:], sep='\n', file=sys.stderr)
            return f'the build failed ({exc})'
        _restore(saved, cwd)
    if any(sources[m] != _digest(m) for m in MODULES):
        for built in _built_files():
            built.unlink()
        return 'a source changed during the build'
    manifest = {'cache_tag': sys.implementation.cache_tag, 'ext_suffix': EXTENSION_SUFFIXES[0],
                'sources': sources}
    partial = MANIFEST.with_suffix('.json.partial')
    partial.write_text(json.dumps(manifest, indent=1) + '\n')
    partial.replace(MANIFEST)   # written whole, or not at all
    return None


def main(action: str, verbose: bool = False) -> int:
    """``dosim native build`` and ``dosim native status``: the exit status."""
    if action == 'build':
        if _reason_to_stay_pure(honour_env=False) is None:
            print(f'dosim.native: up to date ({len(MODULES)} modules compiled)')
            return 0
        why = build(quiet=not verbose)
        if why is None:
            print('dosim.native: built')
            return 0
        print(f'dosim.native: not built: {why}. dosim runs from source, correct but slower '
              '(an agent fleet about 1.5 times as long).', file=sys.stderr)
        return 1 if os.environ.get('CI') == 'true' else 0   # under CI nothing is skipped
    print(f'dosim runtime: {status()}')
    return 0


choose()
