// list() returns keys in UTF-8 byte order, not UTF-16 order: '😀' after '\uffff'; '' is a key.
import { DurableObject } from 'cloudflare:workers';

const KEYS = ['😀', 'z', '\uffff', 'é', 'B', '', 'aa', '\ud7ff', 'a', '\u4e00', '\ue000'];

export class Subject extends DurableObject {
  async fetch(request) {
    const s = this.ctx.storage;
    if (new URL(request.url).pathname === '/fill') {
      for (const k of KEYS) s.put(k, k.length);
      return new Response('ok');
    }
    return Response.json({
      keys: [...(await s.list()).keys()],
      reversed: [...(await s.list({ reverse: true, limit: 3 })).keys()],
      fromE: [...(await s.list({ start: 'é' })).keys()],
    });
  }
}
