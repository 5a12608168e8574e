// The output gate holds a reply until the writes before it are durable: a put without
// await, a reply, then abort() in the next request -- the write survives the reset.
import { DurableObject } from 'cloudflare:workers';

export class Subject extends DurableObject {
  async fetch(request) {
    const path = new URL(request.url).pathname;
    if (path === '/put') {
      this.ctx.storage.put('a', 1);          // no await: the reply waits for it
      return new Response('ok');
    }
    if (path === '/abort') this.ctx.abort('reset after reply');
    return Response.json(Object.fromEntries(await this.ctx.storage.list()));
  }
}
