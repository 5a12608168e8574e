// An uncaught exception reaches the caller as a remote error with its message; the object
// is NOT reset (same constructor count, memory kept) and the same stub keeps working.
import { DurableObject } from 'cloudflare:workers';

let built = 0;

export class Subject extends DurableObject {
  calls = 0;

  constructor(ctx, env) {
    super(ctx, env);
    built += 1;
  }

  async fetch(request) {
    this.calls += 1;
    const path = new URL(request.url).pathname;
    if (path === '/boom') throw new Error('boom');
    if (path === '/type') throw new TypeError('type boom');
    return Response.json({ built, calls: this.calls });
  }
}
