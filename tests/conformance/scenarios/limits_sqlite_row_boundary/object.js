// SQLite-backed: key + serialized value may fill about 2.2 MB per row; one more byte gives
// 'string or blob too big: SQLITE_TOOBIG', and the object stays usable. 3000-byte keys are fine.
import { DurableObject } from 'cloudflare:workers';

export class Subject extends DurableObject {
  async fetch(request) {
    const s = this.ctx.storage;
    const attempt = async (key, value) => {
      try { await s.put(key, value); return 'ok'; } catch (e) { return e.message; }
    };
    return Response.json({
      asciiMax: await attempt('a', 'x'.repeat(2199986)),
      asciiOver: await attempt('a', 'x'.repeat(2199987)),
      cjkMax: await attempt('c', '\u4e00'.repeat(1099992)),
      cjkOver: await attempt('c', '\u4e00'.repeat(1099993)),
      keyMax: await attempt('k'.repeat(2199990), 1),
      keyOver: await attempt('k'.repeat(2199991), 1),
      key3000: await attempt('k'.repeat(3000), 1),
      after: await attempt('small', 1),
      asciiLength: ((await s.get('a')) ?? '').length,
    });
  }
}
