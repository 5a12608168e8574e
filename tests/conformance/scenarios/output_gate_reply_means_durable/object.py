"""The output gate: a reply is released only once the write before it is durable."""

from __future__ import annotations

import json

import dosim


class Subject(dosim.DurableObject):
    def fetch(self, request):
        if request.path == '/put':
            self.ctx.storage.put('a', 1)          # no yield: the reply waits for it
            return dosim.Response('ok')
        if request.path == '/abort':
            self.ctx.abort('reset after reply')
        return dosim.Response(json.dumps((yield self.ctx.storage.list())))
