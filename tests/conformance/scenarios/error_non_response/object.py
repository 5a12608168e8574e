"""Returning a non-Response from fetch is a remote TypeError; nothing is reset."""

from __future__ import annotations

import json

import dosim

BUILT = 0


class Subject(dosim.DurableObject):
    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        global BUILT
        BUILT += 1

    def fetch(self, request):
        if request.path == '/string':
            return 'a string'
        return dosim.Response(json.dumps({'built': BUILT}))
