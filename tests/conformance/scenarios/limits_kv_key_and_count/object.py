"""KV-backed: the 2048-byte key and 128-key limits (production only)."""

from __future__ import annotations

import json

import dosim


class Subject(dosim.DurableObject):
    def fetch(self, request):
        s = self.ctx.storage

        def attempt(make):
            try:
                yield make()
                return 'ok'
            except Exception as exc:
                return str(exc)

        def pairs(n):
            return {f'k{i}': i for i in range(n)}

        return dosim.Response(json.dumps({
            'key2048': (yield from attempt(lambda: s.put('k' * 2048, 1))),
            'key2049': (yield from attempt(lambda: s.put('k' * 2049, 1))),
            'keyE1025': (yield from attempt(lambda: s.put('é' * 1025, 1))),
            'put128': (yield from attempt(lambda: s.put(pairs(128)))),
            'put129': (yield from attempt(lambda: s.put(pairs(129)))),
            'get129': (yield from attempt(lambda: s.get(list(pairs(129))))),
        }))
