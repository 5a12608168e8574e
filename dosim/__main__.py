"""``python -m dosim``: the same command line as the ``dosim`` script (:mod:`dosim.cli`)."""

from __future__ import annotations

from .cli import main

if __name__ == '__main__':
    raise SystemExit(main())
