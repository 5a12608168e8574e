// An outbound fetch opens the input gate: a second request runs during the first one's
// fetch, both read 0, and one increment is lost (1, 1, then the counter reads 1).
import { DurableObject } from 'cloudflare:workers';

export class Subject extends DurableObject {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === '/get') return new Response(String((await this.ctx.storage.get('n')) ?? 0));
    const n = ((await this.ctx.storage.get('n')) ?? 0) + 1;
    await fetch(`${this.env.EXTERNAL}/?ms=300`);   // a slow external service
    this.ctx.storage.put('n', n);
    return new Response(String(n));
  }
}
