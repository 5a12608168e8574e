// deleteAll() removes every key and, from compatibility date 2026-02-24 on, the alarm too;
// setAlarm rejects times <= 0 with a TypeError.
import { DurableObject } from 'cloudflare:workers';

export class Subject extends DurableObject {
  async fetch(request) {
    const s = this.ctx.storage;
    const out = {};
    for (const t of [0, -5]) {
      try { await s.setAlarm(t); out[`set${t}`] = 'ok'; } catch (e) { out[`set${t}`] = e.message; }
    }
    await s.setAlarm(Date.now() + 100000);
    out.before = (await s.getAlarm()) !== null;
    await s.put('x', 1);
    await s.deleteAll();
    out.after = await s.getAlarm();
    out.x = (await s.get('x')) ?? null;
    out.keys = [...(await s.list()).keys()];
    return Response.json(out);
  }

  async alarm() {}
}
