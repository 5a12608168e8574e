"""SQLite-backed: the 2.2 MB row limit, to the byte, with SQLite's error text."""

from __future__ import annotations

import json

import dosim


class Subject(dosim.DurableObject):
    def fetch(self, request):
        s = self.ctx.storage

        def attempt(key, value):
            try:
                yield s.put(key, value)
                return 'ok'
            except Exception as exc:
                return str(exc)

        out = {
            'asciiMax': (yield from attempt('a', 'x' * 2199986)),
            'asciiOver': (yield from attempt('a', 'x' * 2199987)),
            'cjkMax': (yield from attempt('c', '\u4e00' * 1099992)),
            'cjkOver': (yield from attempt('c', '\u4e00' * 1099993)),
            'keyMax': (yield from attempt('k' * 2199990, 1)),
            'keyOver': (yield from attempt('k' * 2199991, 1)),
            'key3000': (yield from attempt('k' * 3000, 1)),
            'after': (yield from attempt('small', 1)),
        }
        out['asciiLength'] = len((yield s.get('a')) or '')
        return dosim.Response(json.dumps(out))
