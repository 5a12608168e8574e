"""list() options and the errors for bad ones."""

from __future__ import annotations

import json

import dosim


class Subject(dosim.DurableObject):
    def fetch(self, request):
        s = self.ctx.storage
        yield s.put({'a': 1, 'b': 2, 'ba': 3, 'bb': 4, 'bc': 5, 'c': 6, 'd': 7})

        def keys(**opts):
            try:
                return list((yield s.list(**opts)))
            except Exception as exc:
                return f'{type(exc).__name__}: {exc}'

        return dosim.Response(json.dumps({
            'startAfter': (yield from keys(start_after='a')),
            'startAfterEnd': (yield from keys(start_after='a', end='c')),
            'endBeforeStart': (yield from keys(start='c', end='a')),
            'reverseLimit': (yield from keys(reverse=True, limit=2)),
            'reverseRange': (yield from keys(reverse=True, start='b', end='c')),
            'reversePrefix': (yield from keys(reverse=True, prefix='b', limit=2)),
            'prefix': (yield from keys(prefix='b')),
            'limitFraction': (yield from keys(limit=1.5)),
            'bothStarts': (yield from keys(start='a', start_after='a')),
            'limitZero': (yield from keys(limit=0)),
            'limitNegative': (yield from keys(limit=-1)),
        }))
