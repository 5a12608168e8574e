// A blockConcurrencyWhile callback that throws resets the object even when the handler
// catches the error: the caller gets it with durableObjectReset, the stub is broken.
import { DurableObject } from 'cloudflare:workers';

let built = 0;

export class Subject extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    built += 1;
  }

  async fetch(request) {
    if (new URL(request.url).pathname === '/bcw') {
      try {
        await this.ctx.blockConcurrencyWhile(async () => { throw new Error('bcw boom'); });
      } catch (e) {
        return new Response('caught: ' + e.message);
      }
    }
    return Response.json({ built });
  }
}
