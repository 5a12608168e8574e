"""rollback() discards the writes and lets the value through; later ops on txn fail."""

from __future__ import annotations

import json

import dosim


class Subject(dosim.DurableObject):
    def fetch(self, request):
        s = self.ctx.storage
        seen = {'afterRollback': 'no error'}

        def body(txn):
            yield txn.put('a', 1)
            txn.rollback()
            txn.rollback()
            try:
                yield txn.get('a')
            except Exception as exc:
                seen['afterRollback'] = str(exc)
            return 5

        result = yield s.transaction(body)
        return dosim.Response(json.dumps(
            {'result': result, 'a': (yield s.get('a')), **seen}))
