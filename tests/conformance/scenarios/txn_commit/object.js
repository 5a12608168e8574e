// A committed transaction returns its callback's value; inside it both txn.get and the
// outer storage.get see its uncommitted write; afterwards the write is stored.
import { DurableObject } from 'cloudflare:workers';

export class Subject extends DurableObject {
  async fetch(request) {
    const s = this.ctx.storage;
    const result = await s.transaction(async (txn) => {
      await txn.put('a', 1);
      return { x: 1, inner: await txn.get('a'), outer: await s.get('a') };
    });
    return Response.json({ result, after: await s.get('a') });
  }
}
