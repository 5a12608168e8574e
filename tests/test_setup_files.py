"""The set-up files agree with each other.

dosim can be installed two ways: with pip from ``pyproject.toml`` (what ``make`` does), or with
conda from ``environment.yml``. Each file lists the packages dosim needs, so the list is written
down twice, and two copies of a list drift apart: someone raises ``pandas>=2.1`` to ``>=2.2``
in one file because the code now uses a 2.2 feature, and the other install keeps working on
their machine (which already has 2.2) but breaks on a fresh one. These tests make the drift
fail at once, on every machine, instead of months later on a student's laptop.

The README and CI make a promise too: ``make lab`` and ``make test`` are all a newcomer needs,
and CI runs exactly what a developer runs. The last tests here keep those promises checked.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent

# One requirement in the only form these files use: a name, optional extras, a lower bound.
# Upper bounds and pins are deliberately absent: dosim is a library-like kit installed next to
# whatever else a notebook user has, and pins belong in a lock file, not in its metadata.
REQUIREMENT = re.compile(
    r'^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*'
    r'(?:\[(?P<extras>[^\]]*)\])?\s*'
    r'>=\s*(?P<bound>[0-9]+(?:\.[0-9]+)*)$'
)
# The line in environment.yml's pip section that installs dosim itself, editable, with extras.
SELF_INSTALL = re.compile(r'^-e\s+\.(?:\[(?P<extras>[^\]]*)\])?$')


def normalise(name: str) -> str:
    """A package name as PyPI compares it (PEP 503): ``PyYAML`` and ``py_yaml`` are one name."""
    return re.sub(r'[-_.]+', '-', name).lower()


def release(bound: str) -> tuple[int, ...]:
    """A version as a comparable tuple without trailing zeros, so that ``6`` equals ``6.0``."""
    parts = [int(p) for p in bound.split('.')]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def parse(spec: str, where: str) -> tuple[str, tuple[int, ...]]:
    """``'pandas>=2.1'`` -> ``('pandas', (2, 1))``; anything else is a mistake worth a message."""
    match = REQUIREMENT.match(spec.strip())
    assert match, f'{where}: {spec!r} is not of the form name>=version'
    return normalise(match['name']), release(match['bound'])


def pyproject() -> dict:
    with (ROOT / 'pyproject.toml').open('rb') as f:
        return tomllib.load(f)


def environment() -> dict:
    with (ROOT / 'environment.yml').open() as f:
        return yaml.safe_load(f)


def conda_sections(env: dict) -> tuple[list[str], list[str]]:
    """environment.yml's dependencies split into conda specs and the pip section's lines."""
    conda: list[str] = []
    pip: list[str] = []
    for entry in env['dependencies']:
        if isinstance(entry, dict):
            assert list(entry) == ['pip'], f'unexpected section in environment.yml: {entry!r}'
            pip.extend(entry['pip'])
        else:
            conda.append(str(entry))
    return conda, pip


def test_runtime_dependencies_agree():
    """Both files name the same packages with the same lower bounds.

    Conda's own entries are left out of the comparison: ``pip`` (the tool that installs the
    pip section) and ``python``, whose bound is compared with ``requires-python`` instead.
    The pip section's ``-e .[dev]`` installs dosim itself and is not a dependency either.
    """
    meta = pyproject()['project']
    wanted = dict(parse(spec, 'pyproject.toml') for spec in meta['dependencies'])

    conda, pip = conda_sections(environment())
    listed: dict[str, tuple[int, ...]] = {}
    python_bound = None
    for spec in conda + [line for line in pip if not SELF_INSTALL.match(line.strip())]:
        if normalise(spec) == 'pip':
            continue
        name, bound = parse(spec, 'environment.yml')
        if name == 'python':
            python_bound = bound
            continue
        assert name not in listed, f'environment.yml lists {name} twice'
        listed[name] = bound

    assert sorted(listed) == sorted(wanted), (
        'environment.yml and pyproject.toml list different packages: '
        f'only in environment.yml {sorted(set(listed) - set(wanted))}, '
        f'only in pyproject.toml {sorted(set(wanted) - set(listed))}'
    )
    differ = {n: (listed[n], wanted[n]) for n in wanted if listed[n] != wanted[n]}
    assert not differ, f'lower bounds differ (environment.yml, pyproject.toml): {differ}'

    requires = meta['requires-python'].replace(' ', '')
    assert requires.startswith('>='), f'requires-python should be a lower bound: {requires!r}'
    assert python_bound == release(requires[2:]), (
        f'environment.yml asks for python {python_bound}, pyproject.toml for {requires}'
    )


def test_environment_installs_dosim_with_dev_extra():
    """A conda user gets the same test tools as a pip user.

    The dev extra (pytest, nbclient, ruff, ...) is not copied into environment.yml: its pip
    section installs dosim from this checkout, editable and with ``[dev]``, so that list is
    written down only once, in pyproject.toml.
    """
    extras = pyproject()['project']['optional-dependencies']
    assert extras.get('dev'), 'pyproject.toml has no dev extra'
    for spec in extras['dev']:
        parse(spec, 'pyproject.toml [dev]')

    conda, pip = conda_sections(environment())
    assert 'pip' in [normalise(spec) for spec in conda], 'environment.yml must install pip'
    installs = [SELF_INSTALL.match(line.strip()) for line in pip]
    chosen = [m['extras'] or '' for m in installs if m]
    assert chosen, "environment.yml's pip section does not install dosim (-e .[dev])"
    assert any('dev' in [e.strip() for e in extras.split(',')] for extras in chosen), (
        f'environment.yml installs dosim without its dev extra: {pip!r}'
    )


def readme_commands() -> list[str]:
    """The commands in the README's opening: the first code block before any section heading.

    Blank lines, the title and the first sentence are skipped; comments after ``#`` dropped.
    """
    lines = (ROOT / 'README.md').read_text().splitlines()
    assert lines[0].startswith('# '), 'README.md should start with its title'
    commands: list[str] = []
    for line in lines[1:]:
        if line.startswith('#'):
            break
        if line.startswith('    ') and line.strip():
            commands.append(line.split('#', 1)[0].strip())
        elif commands:
            break
    return commands


def test_readme_opens_with_make_lab_and_make_test():
    """A newcomer reads two commands and nothing else before them.

    ``make lab`` and ``make test`` must each work on a fresh machine, so the README promises
    exactly these two, first; everything else comes later under "Other commands".
    """
    assert readme_commands() == ['make lab', 'make test']
    opening = (ROOT / 'README.md').read_text().split('\n    make lab', 1)[0]
    requires = pyproject()['project']['requires-python'].replace(' ', '')
    assert f'Python {requires[2:]}+' in opening, (
        f'the README should name the same minimum Python as requires-python ({requires})'
    )


def test_every_make_command_in_readme_is_a_target():
    """Each ``make X`` the README shows is a target in the Makefile, so none of them is stale.

    A command counts where the README shows it as code: in backticks or an indented block.
    """
    makefile = (ROOT / 'Makefile').read_text()
    targets = set(re.findall(r'^([a-z][a-z0-9_-]*):', makefile, flags=re.MULTILINE))
    readme = (ROOT / 'README.md').read_text()
    shown = set(re.findall(r'(?:`|^ {4})make ([a-z][a-z0-9_-]*)', readme, flags=re.MULTILINE))
    assert {'lab', 'test'} <= shown
    assert shown <= targets, f'README shows make targets the Makefile lacks: {shown - targets}'


def test_make_lab_keeps_jupyter_private():
    """``make lab`` listens on loopback and keeps Jupyter's token, its only login.

    Turning the token off would let any local process, or any web page the browser visits,
    run code as the user. The token is on by default, so the Makefile must simply not touch it.
    """
    makefile = (ROOT / 'Makefile').read_text()
    assert '--ServerApp.ip=127.0.0.1' in makefile
    assert 'token' not in makefile.lower()
    assert 'password' not in makefile.lower()


def test_ci_runs_make_test():
    """CI runs what a developer runs: ``bash .ci/run`` calls ``make test``, under strict bash.

    With ``set -euo pipefail`` a failing step stops the script with a non-zero status, so a
    broken install cannot be followed by a green run of stale code.
    """
    script = (ROOT / '.ci' / 'run').read_text()
    code = [line.strip() for line in script.splitlines() if not line.lstrip().startswith('#')]
    assert 'set -euo pipefail' in code
    assert any(re.match(r'make\s+test\b', line) for line in code), '.ci/run does not run make test'


def test_make_refuses_a_venv_made_with_another_python(tmp_path):
    """A venv keeps the interpreter it was made with, so ``make test PYTHON=python3.12`` with
    a ``.venv`` made by 3.11 would quietly test 3.11 again. make stops instead, names both
    interpreters and says what to do; the interpreter the venv was made with passes."""
    venv = tmp_path / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(venv)], check=True)
    other = tmp_path / 'python-other'   # an interpreter elsewhere, as far as make can tell
    other.write_text('#!/bin/sh\necho /opt/another/python3\n')
    other.chmod(0o755)
    # (an outer make, such as `make test`, passes its own PYTHON down in MAKEFLAGS)
    env = {k: v for k, v in os.environ.items() if k not in ('MAKEFLAGS', 'MFLAGS', 'MAKELEVEL')}

    def make(python: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run(['make', '-s', 'venv-matches', f'PYTHON={python}', f'VENV={venv}'],
                              cwd=ROOT, env=env, capture_output=True, text=True)

    refused = make(other)
    made = os.path.realpath(sys._base_executable)
    assert refused.returncode != 0
    assert f'was made with {made}, and PYTHON={other} is /opt/another/python3' in refused.stderr
    assert f'VENV=.venv-other, or remove {venv}' in refused.stderr
    assert make(sys.executable).returncode == 0
