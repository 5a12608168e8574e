// idFromName is deterministic: HMAC-SHA256 under SHA-256('<workerName>-<className>'), so
// workerd and dosim give the same 64 hex digits; inside the object ctx.id has the name.
import { DurableObject } from 'cloudflare:workers';

export class Subject extends DurableObject {
  async fetch(request) {
    return Response.json({ id: this.ctx.id.toString(), name: this.ctx.id.name ?? null });
  }
}
