"""idFromName is deterministic; the same hex as workerd under Miniflare's namespace key."""

from __future__ import annotations

import json

import dosim


class Subject(dosim.DurableObject):
    def fetch(self, request):
        return dosim.Response(json.dumps({'id': str(self.ctx.id), 'name': self.ctx.id.name}))
