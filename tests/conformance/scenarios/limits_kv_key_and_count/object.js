// KV-backed: keys up to 2048 UTF-8 bytes and 128 keys per call; beyond, RangeErrors in
// production, accepted by local workerd.
import { DurableObject } from 'cloudflare:workers';

export class Subject extends DurableObject {
  async fetch(request) {
    const s = this.ctx.storage;
    const attempt = async (f) => { try { await f(); return 'ok'; } catch (e) { return e.message; } };
    const pairs = (n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
    return Response.json({
      key2048: await attempt(() => s.put('k'.repeat(2048), 1)),
      key2049: await attempt(() => s.put('k'.repeat(2049), 1)),
      keyE1025: await attempt(() => s.put('é'.repeat(1025), 1)),
      put128: await attempt(() => s.put(pairs(128))),
      put129: await attempt(() => s.put(pairs(129))),
      get129: await attempt(() => s.get(Object.keys(pairs(129)))),
    });
  }
}
