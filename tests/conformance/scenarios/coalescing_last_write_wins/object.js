// Writes without await between them coalesce: put k=1, k=3, k=4, delete a, put b; reads in
// the same handler see the latest values (read-your-writes) and storage ends as k=4, b.
import { DurableObject } from 'cloudflare:workers';

export class Subject extends DurableObject {
  async fetch(request) {
    const s = this.ctx.storage;
    if (new URL(request.url).pathname === '/write') {
      s.put('a', 'x');
      s.put('k', 1);
      s.put('k', 3);
      s.put('k', 4);
      const existed = await s.delete('a');
      s.put('b', true);
      return Response.json({ k: await s.get('k'), a: (await s.get('a')) ?? null, existed });
    }
    return Response.json(Object.fromEntries(await s.list()));
  }
}
