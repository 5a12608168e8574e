"""KV-backed: the 131072-byte value limit (production; local workerd does not enforce it)."""

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

        return dosim.Response(json.dumps({
            'max': (yield from attempt('a', 'x' * 131100)),
            'over': (yield from attempt('b', 'x' * 131101)),
            'cjkMax': (yield from attempt('c', '\u4e00' * 65550)),
            'cjkOver': (yield from attempt('d', '\u4e00' * 65551)),
            'after': (yield from attempt('small', 1)),
        }))
