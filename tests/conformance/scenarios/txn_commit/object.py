"""A committed transaction returns its value; its reads see its own writes."""

from __future__ import annotations

import json

import dosim


class Subject(dosim.DurableObject):
    def fetch(self, request):
        s = self.ctx.storage

        def body(txn):
            yield txn.put('a', 1)
            return {'x': 1, 'inner': (yield txn.get('a')), 'outer': (yield s.get('a'))}

        result = yield s.transaction(body)
        return dosim.Response(json.dumps({'result': result, 'after': (yield s.get('a'))}))
