"""delete_all() removes the keys and the alarm; set_alarm refuses times <= 0."""

from __future__ import annotations

import json

import dosim


class Subject(dosim.DurableObject):
    def fetch(self, request):
        s = self.ctx.storage
        out = {}
        for t in (0, -5):
            try:
                yield s.set_alarm(t)
                out[f'set{t}'] = 'ok'
            except Exception as exc:
                out[f'set{t}'] = str(exc)
        yield s.set_alarm(dosim.now() + 100000)
        out['before'] = (yield s.get_alarm()) is not None
        yield s.put('x', 1)
        yield s.delete_all()
        out['after'] = yield s.get_alarm()
        out['x'] = yield s.get('x')
        out['keys'] = list((yield s.list()))
        return dosim.Response(json.dumps(out))

    def alarm(self, info):
        pass
