"""Writes with no yield between them coalesce; reads see the latest values."""

from __future__ import annotations

import json

import dosim


class Subject(dosim.DurableObject):
    def fetch(self, request):
        s = self.ctx.storage
        if request.path == '/write':
            s.put('a', 'x')
            s.put('k', 1)
            s.put('k', 3)
            s.put('k', 4)
            existed = yield s.delete('a')
            s.put('b', True)
            return dosim.Response(json.dumps(
                {'k': (yield s.get('k')), 'a': (yield s.get('a')), 'existed': existed}))
        return dosim.Response(json.dumps((yield s.list())))
