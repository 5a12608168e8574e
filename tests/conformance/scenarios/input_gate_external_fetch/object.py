"""An outbound fetch opens the input gate: one of two concurrent increments is lost."""

from __future__ import annotations

import dosim


class Subject(dosim.DurableObject):
    def fetch(self, request):
        if request.path == '/get':
            return dosim.Response(str((yield self.ctx.storage.get('n')) or 0))
        n = ((yield self.ctx.storage.get('n')) or 0) + 1
        yield dosim.fetch_external(latency_ms=300)    # a slow external service
        self.ctx.storage.put('n', n)
        return dosim.Response(str(n))
