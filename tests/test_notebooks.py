"""The notebooks run, top to bottom, on a fresh kernel, and are stored without outputs.

Every ``notebooks/**/*.ipynb`` gets its own tests (deselect them all with
``-m 'not notebooks'``). A notebook is run with nbclient the way "Restart kernel and run all"
runs it in JupyterLab, with the notebook's folder as working directory. A failing cell fails
the test with that cell's source and traceback in the message.

The kernel is always ipykernel under *this* interpreter (``sys.executable``: the venv's python
under ``make test``), whatever ``python3`` kernelspecs the machine has installed elsewhere --
in ``~/.local/share/jupyter`` for example -- so the notebooks exercise the dosim under test.

Outputs must not be committed: they bloat diffs, go stale as the model changes, and hide a
notebook that no longer runs behind results it once produced. Clear them before committing
(JupyterLab: Edit > Clear Outputs of All Cells, or
``jupyter nbconvert --clear-output --inplace notebooks/*.ipynb``).

nbclient and nbformat take seconds to import, so they are imported only when a notebook is
run: deselecting these tests keeps the rest of the suite quick to start.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / 'notebooks'
NOTEBOOKS = sorted(
    p for p in NOTEBOOK_DIR.glob('**/*.ipynb') if '.ipynb_checkpoints' not in p.parts
)
TIMEOUT_S = 120  # per cell; a teaching notebook should take seconds in all

pytestmark = pytest.mark.notebooks


def _id(path: Path) -> str:
    return path.relative_to(NOTEBOOK_DIR).as_posix()


def _kernel_manager_class() -> type:
    """A kernel manager that starts ``ipykernel`` under ``sys.executable``, not whatever
    interpreter a ``python3`` kernelspec found on this machine names."""
    from ipykernel.kernelspec import get_kernel_dict
    from jupyter_client.kernelspec import KernelSpec
    from jupyter_client.manager import AsyncKernelManager

    class ThisPythonKernelManager(AsyncKernelManager):
        @property
        def kernel_spec(self) -> KernelSpec:
            return KernelSpec(resource_dir='', **get_kernel_dict())

    return ThisPythonKernelManager


def run_notebook(path: Path) -> Any:
    """Execute the notebook at *path* on a fresh kernel and return it, executed, with one
    cell appended that prints the kernel's ``sys.prefix``. A cell that raises, or runs past
    TIMEOUT_S, fails the calling test with the cell's source and error in the message."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import sys\nprint(sys.prefix, end='')"))
    client = NotebookClient(
        nb,
        timeout=TIMEOUT_S,
        kernel_name='python3',
        kernel_manager_class=_kernel_manager_class(),
        resources={'metadata': {'path': str(path.parent)}},
    )
    try:
        client.execute()
    except CellTimeoutError as exc:
        pytest.fail(f'{path.name}: a cell ran past {TIMEOUT_S} s\n{exc}', pytrace=False)
    except CellExecutionError as exc:
        pytest.fail(f'{path.name}: a cell failed\n{exc}', pytrace=False)
    return nb


def test_there_are_notebooks():
    assert NOTEBOOKS, f'no notebooks under {NOTEBOOK_DIR}'


@pytest.mark.parametrize('path', NOTEBOOKS, ids=_id)
def test_notebook_is_stored_as_nbformat_4_without_outputs(path: Path):
    nb = json.loads(path.read_text(encoding='utf-8'))
    assert nb['nbformat'] == 4, f'{_id(path)} is nbformat {nb["nbformat"]}, not 4'
    dirty = [
        i for i, cell in enumerate(nb['cells'])
        if cell['cell_type'] == 'code' and (cell.get('outputs') or cell.get('execution_count'))
    ]
    assert not dirty, (
        f'{_id(path)}: code cells {dirty} (counting from 0) have outputs or execution counts; '
        f'clear them before committing: jupyter nbconvert --clear-output --inplace {path}'
    )


@pytest.mark.parametrize('path', NOTEBOOKS, ids=_id)
def test_notebook_runs_without_errors(path: Path):
    nb = run_notebook(path)
    prefix = nb.cells[-1].outputs[0]['text']
    assert prefix == sys.prefix, f'the kernel ran under {prefix}, not under {sys.prefix}'


def test_a_failing_cell_fails_the_run_with_its_error(tmp_path: Path):
    """The harness itself: a cell that raises stops the run, and the message says why."""
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('x = 1'),
        nbformat.v4.new_code_cell('x / 0  # the broken cell'),
        nbformat.v4.new_code_cell("print('never runs')"),
    ])
    broken = tmp_path / 'broken.ipynb'
    nbformat.write(nb, broken)
    with pytest.raises(pytest.fail.Exception) as failed:
        run_notebook(broken)
    message = str(failed.value)
    assert 'broken.ipynb: a cell failed' in message
    assert 'the broken cell' in message
    assert 'ZeroDivisionError' in message
