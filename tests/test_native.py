"""The compiled runtime (:mod:`dosim.native`): the same model, whichever way it runs.

``make`` compiles the runtime's hot modules with mypyc where a C compiler is at hand. These
tests pin down the three promises that makes: the compiled modules are what runs (under CI,
always), they behave exactly as their sources do (the same frames, to the last digit), and
a source edited after the build is never shadowed by the stale extension module beside it.
The rest of the suite then runs twice (``make test``): compiled, and with ``DOSIM_PURE=1``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dosim import native

ROOT = Path(__file__).resolve().parents[1]
PURE = os.environ.get('DOSIM_PURE', '') not in ('', '0')
BUILT = native._reason_to_stay_pure(honour_env=False) is None


def needs_build() -> None:
    """Skip (saying why) where no build could be made; under CI there is always one."""
    if not BUILT and os.environ.get('CI') != 'true':
        pytest.skip(f'no compiled build here: {native._reason_to_stay_pure(honour_env=False)}')


def python(code: str, package_parent: Path = ROOT, **env: str) -> str:
    """Run *code* in a fresh interpreter that imports dosim from *package_parent*."""
    environ = {k: v for k, v in os.environ.items() if k != 'DOSIM_PURE'}
    environ.update(env, PYTHONPATH=str(package_parent))
    done = subprocess.run([sys.executable, '-c', textwrap.dedent(code), str(ROOT)], env=environ,
                          cwd=package_parent, capture_output=True, text=True, timeout=600,
                          check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_this_process_runs_the_way_it_was_asked_to() -> None:
    """With ``DOSIM_PURE`` set, every runtime module comes from its source; otherwise, where
    a build exists (always under CI), every one of them is compiled."""
    if PURE:
        assert native.compiled() == ()
        assert native.status() == 'from source: DOSIM_PURE is set'
        return
    needs_build()
    assert native.compiled() == native.MODULES
    assert native.status().startswith('compiled with mypyc: heap, loop, context, lifecycle')


FRAMES = """
    import hashlib, sys
    import pandas as pd
    import dosim.native
    from dosim.scenario import load, run

    digest = hashlib.sha256()
    for name in ('agent_fleet', 'chat_rooms', 'hot_counter', 'agents_across_regions'):
        sc = load(f'{sys.argv[1]}/data/scenarios/{name}.yaml')
        sc = sc.with_values({'duration_ms': sc.spec.duration_ms / 8,
                             'warmup_ms': sc.spec.warmup_ms / 8})
        result = run(sc)
        for key in sorted(result.frames):
            frame = result.frames[key]
            digest.update(repr((name, key, list(frame.columns), frame.shape,
                                [str(t) for t in frame.dtypes])).encode())
            digest.update(pd.util.hash_pandas_object(frame.astype(str), index=False).values)
    print(len(dosim.native.compiled()), digest.hexdigest())
"""


@pytest.mark.slow
def test_compiled_and_source_runtimes_record_identical_frames() -> None:
    """Four shipped scenarios (alarm loops with failures and retries, chat rooms with
    hibernation, a hot counter, calls across regions), each run compiled and from source:
    every frame has the same columns, dtypes and values, as text, to the last digit. (An int
    time turned into a float, say, would show as ``1000.0`` against ``1000``.)"""
    needs_build()
    compiled = python(FRAMES).split()
    pure = python(FRAMES, DOSIM_PURE='1').split()
    assert compiled[0] == str(len(native.MODULES))
    assert pure[0] == '0'
    assert compiled[1] == pure[1]


def copy_package(tmp_path: Path) -> Path:
    """A copy of the package, build included, to edit without touching the real one."""
    shutil.copytree(ROOT / 'dosim', tmp_path / 'dosim',
                    ignore=shutil.ignore_patterns('__pycache__'))
    return tmp_path


STATUS = 'import dosim.native as n; print(n.compiled(), "|", n.status())'


def test_an_edited_source_is_run_instead_of_its_stale_build(tmp_path: Path) -> None:
    """After the build, someone edits ``storage.py``: the extension module beside it is now
    out of date, so dosim imports *every* runtime module from source (a mix of compiled and
    interpreted modules from different sources could disagree) and says which file changed."""
    needs_build()
    parent = copy_package(tmp_path)
    assert python(STATUS, parent).startswith(repr(native.MODULES))
    storage = parent / 'dosim' / 'storage.py'
    storage.write_text(storage.read_text() + '\n# edited after the build\n')
    assert python(STATUS, parent).strip() == \
        '() | from source: sources changed since the build: storage.py'


def test_a_build_without_its_manifest_or_for_another_python_is_not_used(
        tmp_path: Path) -> None:
    """Extension modules whose sources cannot be vouched for are not imported."""
    needs_build()
    parent = copy_package(tmp_path)
    manifest = parent / 'dosim' / native.MANIFEST.name
    record = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**record, 'cache_tag': 'cpython-399'}))
    assert python(STATUS, parent).strip() == \
        f'() | from source: built for cpython-399, not {sys.implementation.cache_tag}'
    manifest.unlink()
    assert python(STATUS, parent).strip() == \
        '() | from source: _native.json is missing or unreadable: the build is of unknown origin'


def test_without_a_build_dosim_runs_from_source_and_says_so(tmp_path: Path) -> None:
    parent = copy_package(tmp_path)
    for built in (parent / 'dosim').glob('*.so'):
        built.unlink()
    assert python(STATUS, parent).strip() == \
        '() | from source: not built (dosim native build)'


def test_without_a_compiler_the_build_says_why_and_fails_only_under_ci(
        tmp_path: Path) -> None:
    """On a machine with Python and make only, ``make`` must still set everything up: the
    build reports what is missing and succeeds, and dosim runs from source. Under CI, where
    nothing may be skipped, the same is an error."""
    parent = copy_package(tmp_path)
    for built in (parent / 'dosim').glob('*.so'):
        built.unlink()
    no_compiler = """
        import shutil, sys
        shutil.which = lambda name, *args, **kwargs: None   # no gcc, no cc
        from dosim import native
        print('exit status', native.main('build'))
    """
    out = python(no_compiler, parent, CI='')
    assert out.splitlines() == ['exit status 0']
    assert sorted(p.name for p in (parent / 'dosim').glob('*.so')) == []
    assert python(no_compiler, parent, CI='true').splitlines() == ['exit status 1']
