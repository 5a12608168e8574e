// A failing alarm is retried after 2 s, then 4 s, each plus 0-25 % jitter; between
// attempts getAlarm() shows the original time; retryCount/isRetry count the retries.
import { DurableObject } from 'cloudflare:workers';

// Times are reported relative to t0, the time of the first /set, so both runtimes agree.
export class Subject extends DurableObject {
  async fetch(request) {
    const s = this.ctx.storage;
    const path = new URL(request.url).pathname;
    if (path.startsWith('/set-')) {
      const t0 = (await s.get('t0')) ?? Date.now();
      await s.put('t0', t0);
      await s.setAlarm(t0 + Number(path.slice(5)));
      return Response.json({ alarm: (await s.getAlarm()) - t0 });
    }
    const t0 = await s.get('t0');
    const alarm = await s.getAlarm();
    const log = (await s.get('log')) ?? [];
    const gaps = log.slice(1).map((entry, i) => entry.at - log[i].at);
    return Response.json({ alarm: alarm === null ? null : alarm - t0, log, gaps,
                           finished: (await s.get('finished')) ?? null });
  }

  async alarm(info) {
    const s = this.ctx.storage;
    const t0 = await s.get('t0');
    const log = (await s.get('log')) ?? [];
    const inside = await s.getAlarm();
    log.push({ at: Date.now() - t0, retryCount: info.retryCount, isRetry: info.isRetry,
               inside: inside === null ? null : inside - t0 });
    await s.put('log', log);
    await s.sync();
    if (log.length <= 2) throw new Error(`attempt ${log.length} failed`);
  }
}
