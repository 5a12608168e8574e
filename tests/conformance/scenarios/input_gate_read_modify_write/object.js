// Three concurrent read-modify-write requests: storage awaits keep the input gate closed,
// so no request reads the counter between another's get() and put(): 1, 2, 3.
import { DurableObject } from 'cloudflare:workers';

export class Subject extends DurableObject {
  async fetch(request) {
    const n = ((await this.ctx.storage.get('n')) ?? 0) + 1;
    this.ctx.storage.put('n', n);
    return new Response(String(n));
  }
}
