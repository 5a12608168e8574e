// A throwing transaction callback discards its writes and the same error reaches the
// caller of transaction(); deleteAll() is refused inside a transaction; the object lives on.
import { DurableObject } from 'cloudflare:workers';

export class Subject extends DurableObject {
  async fetch(request) {
    const s = this.ctx.storage;
    const out = {};
    try {
      await s.transaction(async (txn) => { await txn.put('a', 1); throw new Error('txn boom'); });
    } catch (e) { out.thrown = e.message; }
    try {
      await s.transaction(async (txn) => { await txn.deleteAll(); });
    } catch (e) { out.deleteAll = e.message; }
    out.a = (await s.get('a')) ?? null;
    await s.put('later', 2);
    out.later = await s.get('later');
    return Response.json(out);
  }
}
