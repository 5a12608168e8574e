"""Writing a run's frames to a directory, all at once or not at all.

:func:`write_frames` writes every frame as ``<name>.csv`` or ``<name>.parquet`` (plus any
text files, such as the scenario as run) into a fresh temporary directory beside the target,
then renames it into place. A reader never sees half a result, and a run that fails or is
interrupted leaves nothing behind but what was there before. A directory that exists and is
not empty is refused unless *force* is given; then the old one is renamed aside, the new one
renamed in, and only then is the old one deleted.

Parquet keeps column types exactly and is compact, but needs ``pyarrow`` (``pip install
'dosim[parquet]'``); CSV needs nothing.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

__all__ = ['FORMATS', 'OutputError', 'write_frames']

FORMATS = ('csv', 'parquet')


class OutputError(ValueError):
    """The output directory or format cannot be used (nothing was written)."""


def check_target(out: Path, fmt: str, force: bool) -> None:
    """Refuse a bad *fmt*, a missing pyarrow, a file at *out*, or a non-empty *out*
    without *force* -- before anything runs."""
    if fmt not in FORMATS:
        raise OutputError(f'format must be one of {", ".join(FORMATS)}, got {fmt!r}')
    if fmt == 'parquet' and importlib.util.find_spec('pyarrow') is None:
        raise OutputError("Parquet output needs pyarrow: pip install 'dosim[parquet]', "
                          'or use --format csv')
    if out.exists() and not out.is_dir():
        raise OutputError(f'{str(out)!r} is a file, not a directory')
    if out.is_dir() and any(out.iterdir()) and not force:
        raise OutputError(f'{str(out)!r} exists and is not empty; refusing to overwrite it '
                          '(use --force to replace it)')


def _write(frame: pd.DataFrame, path: Path, fmt: str) -> None:
    if fmt == 'csv':
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)


def write_frames(frames: Mapping[str, pd.DataFrame], out: str | Path, fmt: str = 'csv',
                 force: bool = False, texts: Mapping[str, str] | None = None) -> list[Path]:
    """Write *frames* (name -> frame) and *texts* (file name -> text) into directory *out*,
    atomically (see the module docstring); returns the paths written, in *out*."""
    out = Path(out)
    check_target(out, fmt, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    tag = secrets.token_hex(4)
    tmp = out.parent / f'.{out.name}.tmp-{tag}'
    tmp.mkdir()
    try:
        names = []
        for name, frame in frames.items():
            _write(frame, tmp / f'{name}.{fmt}', fmt)
            names.append(f'{name}.{fmt}')
        for name, text in (texts or {}).items():
            (tmp / name).write_text(text, encoding='utf-8')
            names.append(name)
        _swap_in(tmp, out, tag)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [out / n for n in names]


def _swap_in(tmp: Path, out: Path, tag: str) -> None:
    """Rename *tmp* to *out*, replacing an existing *out* (kept aside until the rename)."""
    if not out.exists():
        os.rename(tmp, out)
        return
    old = out.parent / f'.{out.name}.old-{tag}'
    os.rename(out, old)
    try:
        os.rename(tmp, out)
    except BaseException:
        os.rename(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)
