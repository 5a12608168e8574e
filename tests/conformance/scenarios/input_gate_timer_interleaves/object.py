"""A timer opens the input gate: request B runs while request A sleeps."""

from __future__ import annotations

import json

import dosim


class Subject(dosim.DurableObject):
    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        self.log: list[str] = []

    def fetch(self, request):
        if request.path == '/a':
            self.log.append('A1')
            yield dosim.sleep(300)
            self.log.append('A2')
        elif request.path == '/b':
            self.log.append('B')
        return dosim.Response(json.dumps(self.log))
