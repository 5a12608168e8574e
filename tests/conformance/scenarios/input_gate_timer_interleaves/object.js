// A timer (setTimeout) opens the input gate: request B runs while request A sleeps, so the
// in-memory log reads A1, B, A2; a storage await in its place would keep B out.
import { DurableObject } from 'cloudflare:workers';

export class Subject extends DurableObject {
  log = [];

  async fetch(request) {
    const path = new URL(request.url).pathname;
    if (path === '/a') {
      this.log.push('A1');
      await new Promise((resolve) => setTimeout(resolve, 300));
      this.log.push('A2');
    } else if (path === '/b') {
      this.log.push('B');
    }
    return Response.json(this.log);
  }
}
