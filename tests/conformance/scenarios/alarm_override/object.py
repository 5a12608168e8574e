"""A second set_alarm replaces the first: one run at ~300 ms, none at 5 s."""

from __future__ import annotations

import itertools
import json

import dosim


class Subject(dosim.DurableObject):
    def fetch(self, request):
        s = self.ctx.storage
        if request.path.startswith('/set-'):
            t0 = (yield s.get('t0')) or dosim.now()
            yield s.put('t0', t0)
            yield s.set_alarm(t0 + int(request.path[5:]))
            return dosim.Response(json.dumps({'alarm': (yield s.get_alarm()) - t0}))
        t0 = yield s.get('t0')
        alarm = yield s.get_alarm()
        log = (yield s.get('log')) or []
        gaps = [b['at'] - a['at'] for a, b in itertools.pairwise(log)]
        return dosim.Response(json.dumps({
            'alarm': None if alarm is None else alarm - t0, 'log': log, 'gaps': gaps,
            'finished': (yield s.get('finished'))}))

    def alarm(self, info):
        s = self.ctx.storage
        t0 = yield s.get('t0')
        log = (yield s.get('log')) or []
        inside = yield s.get_alarm()
        log.append({'at': dosim.now() - t0, 'retryCount': info.retry_count,
                    'isRetry': info.is_retry, 'inside': None if inside is None else inside - t0})
        yield s.put('log', log)

