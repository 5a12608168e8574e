// abort() right after a write loses it, awaited or not; after sync() or a 50 ms timer the
// write was confirmed first and survives (data/workerd_observations.md §8).
import { DurableObject } from 'cloudflare:workers';

export class Subject extends DurableObject {
  async fetch(request) {
    const s = this.ctx.storage;
    const path = new URL(request.url).pathname;
    if (path === '/no-await') { s.put('no-await', 1); this.ctx.abort('a'); }
    if (path === '/await') { await s.put('await', 1); this.ctx.abort('b'); }
    if (path === '/sync') { await s.put('sync', 1); await s.sync(); this.ctx.abort('c'); }
    if (path === '/timer') {
      await s.put('timer', 1);
      await new Promise((resolve) => setTimeout(resolve, 50));
      this.ctx.abort('d');
    }
    return Response.json(Object.fromEntries(await s.list()));
  }
}
