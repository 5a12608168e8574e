// get([...]) returns the present keys sorted, without duplicates or missing ones; delete
// returns whether a key existed, or how many of a list were actually deleted.
import { DurableObject } from 'cloudflare:workers';

export class Subject extends DurableObject {
  async fetch(request) {
    const s = this.ctx.storage;
    await s.put({ a: 1, b: 2, c: 3 });
    const many = [...(await s.get(['c', 'missing', 'a', 'a', 'b']))];
    return Response.json({
      many,
      none: [...(await s.get([]))],
      missing: (await s.get('nope')) ?? null,
      deleteOne: await s.delete('a'),
      deleteMissing: await s.delete('a'),
      deleteMany: await s.delete(['b', 'b', 'c', 'zz']),
      left: [...(await s.list()).keys()],
    });
  }
}
