"""get(list) sorts and drops missing keys; delete returns existed / how many."""

from __future__ import annotations

import json

import dosim


class Subject(dosim.DurableObject):
    def fetch(self, request):
        s = self.ctx.storage
        yield s.put({'a': 1, 'b': 2, 'c': 3})
        many = list((yield s.get(['c', 'missing', 'a', 'a', 'b'])).items())
        return dosim.Response(json.dumps({
            'many': many,
            'none': list((yield s.get([])).items()),
            'missing': (yield s.get('nope')),
            'deleteOne': (yield s.delete('a')),
            'deleteMissing': (yield s.delete('a')),
            'deleteMany': (yield s.delete(['b', 'b', 'c', 'zz'])),
            'left': list((yield s.list())),
        }))
