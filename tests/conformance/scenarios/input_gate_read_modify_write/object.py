"""Three concurrent read-modify-writes: the storage await keeps the input gate closed."""

from __future__ import annotations

import dosim


class Subject(dosim.DurableObject):
    def fetch(self, request):
        n = ((yield self.ctx.storage.get('n')) or 0) + 1
        self.ctx.storage.put('n', n)
        return dosim.Response(str(n))
