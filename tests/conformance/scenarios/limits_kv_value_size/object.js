// KV-backed: values up to 131072 bytes (V8-serialized, + 34 bytes slack): 'x' * 131100 is the
// largest string; one more is a RangeError in production, accepted by local workerd.
import { DurableObject } from 'cloudflare:workers';

export class Subject extends DurableObject {
  async fetch(request) {
    const s = this.ctx.storage;
    const attempt = async (key, value) => {
      try { await s.put(key, value); return 'ok'; } catch (e) { return e.message; }
    };
    return Response.json({
      max: await attempt('a', 'x'.repeat(131100)),
      over: await attempt('b', 'x'.repeat(131101)),
      cjkMax: await attempt('c', '\u4e00'.repeat(65550)),
      cjkOver: await attempt('d', '\u4e00'.repeat(65551)),
      after: await attempt('small', 1),
    });
  }
}
