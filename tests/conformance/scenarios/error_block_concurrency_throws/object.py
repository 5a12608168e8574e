"""A raising block_concurrency_while callback resets the object, caught or not."""

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
        if request.path == '/bcw':
            def fail():
                yield dosim.sleep(0)
                raise RuntimeError('bcw boom')

            try:
                yield self.ctx.block_concurrency_while(fail)
            except RuntimeError as exc:
                return dosim.Response('caught: ' + str(exc))
        return dosim.Response(json.dumps({'built': BUILT}))
