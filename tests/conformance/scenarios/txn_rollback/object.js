// rollback() discards the writes but lets the callback's value through; a later op on the
// transaction fails with 'Cannot get() on rolled back transaction'; a second rollback is fine.
import { DurableObject } from 'cloudflare:workers';

export class Subject extends DurableObject {
  async fetch(request) {
    const s = this.ctx.storage;
    let afterRollback = 'no error';
    const result = await s.transaction(async (txn) => {
      await txn.put('a', 1);
      txn.rollback();
      txn.rollback();
      try { await txn.get('a'); } catch (e) { afterRollback = e.message; }
      return 5;
    });
    return Response.json({ result, a: (await s.get('a')) ?? null, afterRollback });
  }
}
