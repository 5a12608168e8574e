// abort('my reason') resets the object: the caller gets a remote error with durableObjectReset;
// the same stub is broken (same message, not remote); a new stub re-runs the constructor.
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
    if (new URL(request.url).pathname === '/abort') this.ctx.abort('my reason');
    return Response.json({ built, calls: this.calls });
  }
}
