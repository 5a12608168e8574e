"""abort('my reason') resets the object and breaks the stub; a new stub re-constructs it."""

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
        if request.path == '/abort':
            self.ctx.abort('my reason')
        return dosim.Response(json.dumps({'built': BUILT, 'calls': self.calls}))
