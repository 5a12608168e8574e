// Tags given to acceptWebSocket: getTags(ws) returns them, getWebSockets(tag) filters the
// object's sockets by them.
import { DurableObject } from 'cloudflare:workers';

let built = 0;

export class Subject extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    built += 1;
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('ping', 'pong'));
  }

  async fetch(request) {
    const tags = (new URL(request.url).searchParams.get('tags') ?? '').split(',').filter(Boolean);
    const [client, server] = Object.values(new WebSocketPair());
    this.ctx.acceptWebSocket(server, tags);
    server.serializeAttachment({ joined: tags });
    return new Response(null, { status: 101, webSocket: client });
  }

  async webSocketMessage(ws, message) {
    ws.send(JSON.stringify({
      echo: message,
      built,
      attachment: ws.deserializeAttachment(),
      tags: this.ctx.getTags(ws),
      blue: this.ctx.getWebSockets('blue').length,
      all: this.ctx.getWebSockets().length,
      autoResponded: this.ctx.getWebSocketAutoResponseTimestamp(ws) !== null,
    }));
  }
}
