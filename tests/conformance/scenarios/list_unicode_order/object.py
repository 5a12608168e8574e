"""list() orders keys by UTF-8 bytes: the emoji sorts after U+FFFF."""

from __future__ import annotations

import json

import dosim

KEYS = ['😀', 'z', '\uffff', 'é', 'B', '', 'aa', '\ud7ff', 'a', '\u4e00', '\ue000']


class Subject(dosim.DurableObject):
    def fetch(self, request):
        s = self.ctx.storage
        if request.path == '/fill':
            for k in KEYS:
                s.put(k, len(k.encode('utf-16-le')) // 2)     # JS length: UTF-16 units
            return dosim.Response('ok')
        return dosim.Response(json.dumps({
            'keys': list((yield s.list())),
            'reversed': list((yield s.list(reverse=True, limit=3))),
            'fromE': list((yield s.list(start='é'))),
        }))
