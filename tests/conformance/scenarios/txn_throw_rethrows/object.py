"""A raising transaction discards its writes and re-raises; delete_all() is refused in it."""

from __future__ import annotations

import json

import dosim


class Subject(dosim.DurableObject):
    def fetch(self, request):
        s = self.ctx.storage
        out = {}

        def boom(txn):
            yield txn.put('a', 1)
            raise RuntimeError('txn boom')

        def wipe(txn):
            yield txn.delete_all()

        try:
            yield s.transaction(boom)
        except RuntimeError as exc:
            out['thrown'] = str(exc)
        try:
            yield s.transaction(wipe)
        except Exception as exc:
            out['deleteAll'] = str(exc)
        out['a'] = yield s.get('a')
        yield s.put('later', 2)
        out['later'] = yield s.get('later')
        return dosim.Response(json.dumps(out))
