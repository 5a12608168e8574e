// list() options: start/startAfter/end/prefix/limit/reverse, and the errors for bad ones.
import { DurableObject } from 'cloudflare:workers';

export class Subject extends DurableObject {
  async fetch(request) {
    const s = this.ctx.storage;
    await s.put({ a: 1, b: 2, ba: 3, bb: 4, bc: 5, c: 6, d: 7 });
    const keys = async (opts) => {
      try { return [...(await s.list(opts)).keys()]; } catch (e) { return `${e.name}: ${e.message}`; }
    };
    return Response.json({
      startAfter: await keys({ startAfter: 'a' }),
      startAfterEnd: await keys({ startAfter: 'a', end: 'c' }),
      endBeforeStart: await keys({ start: 'c', end: 'a' }),
      reverseLimit: await keys({ reverse: true, limit: 2 }),
      reverseRange: await keys({ reverse: true, start: 'b', end: 'c' }),
      reversePrefix: await keys({ reverse: true, prefix: 'b', limit: 2 }),
      prefix: await keys({ prefix: 'b' }),
      limitFraction: await keys({ limit: 1.5 }),
      bothStarts: await keys({ start: 'a', startAfter: 'a' }),
      limitZero: await keys({ limit: 0 }),
      limitNegative: await keys({ limit: -1 }),
    });
  }
}
