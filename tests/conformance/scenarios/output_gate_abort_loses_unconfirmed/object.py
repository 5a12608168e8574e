"""abort() right after a write loses it; after sync() or a timer it survives."""

from __future__ import annotations

import json

import dosim


class Subject(dosim.DurableObject):
    def fetch(self, request):
        s = self.ctx.storage
        if request.path == '/no-await':
            s.put('no-await', 1)
            self.ctx.abort('a')
        if request.path == '/await':
            yield s.put('await', 1)
            self.ctx.abort('b')
        if request.path == '/sync':
            yield s.put('sync', 1)
            yield s.sync()
            self.ctx.abort('c')
        if request.path == '/timer':
            yield s.put('timer', 1)
            yield dosim.sleep(50)
            self.ctx.abort('d')
        return dosim.Response(json.dumps((yield s.list())))
