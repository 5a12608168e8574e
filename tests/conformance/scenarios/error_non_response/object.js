// A fetch handler that returns something other than a Response fails the call with a remote
// TypeError; the object is not reset and the stub keeps working.
import { DurableObject } from 'cloudflare:workers';

let built = 0;

export class Subject extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    built += 1;
  }

  async fetch(request) {
    if (new URL(request.url).pathname === '/string') return 'a string';
    return Response.json({ built });
  }
}
