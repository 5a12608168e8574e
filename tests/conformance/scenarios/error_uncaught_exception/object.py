"""An uncaught exception is a remote error; the object is not reset; the stub works."""

from __future__ import annotations

import json

import dosim

BUILT = 0


class Subject(dosim.DurableObject):
    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        global BUILT
        BUILT += 1
        self.calls = 0

    def fetch(self, request):
        self.calls += 1
        if request.path == '/boom':
            raise RuntimeError('boom')
        if request.path == '/type':
            raise TypeError('type boom')
        return dosim.Response(json.dumps({'built': BUILT, 'calls': self.calls}))
