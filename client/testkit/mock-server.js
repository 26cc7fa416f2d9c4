// A small in-process stand-in for the Go server, speaking its wire format (SPEC 3.1, 3.2, 3.5):
// GET /sse/{channel} and GET /poll/{channel}, JWT authorization (401/403), the per-channel
// subscriber cap (429 + Retry-After), replay by last id and realtime.reset frames. Publishing is
// an in-process call. Not covered: CORS, heartbeats, eviction, the publish endpoints.
import http from "node:http";
import { matchesChannel, verifyJwt } from "./jwt.js";

const CHANNEL_PATTERN = /^[a-zA-Z0-9:_.-]{1,128}$/;

/** Channel is one incarnation of a channel: id counter, replay ring, live subscribers. */
class Channel {
  constructor(base, capacity) {
    this.base = base; // ids of this incarnation are above it
    this.lastId = base; // N
    this.capacity = capacity;
    this.ring = []; // oldest first: { id, event, data, frame }
    this.subscribers = new Set(); // ServerResponse of open streams
    this.waiters = new Set(); // wake-up functions of held long-polls
  }

  publish(event, data) {
    const id = ++this.lastId;
    const frame = `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    this.ring.push({ id, event, data, frame });
    if (this.ring.length > this.capacity) this.ring.shift();
    for (const res of this.subscribers) res.write(frame);
    for (const wake of this.waiters) wake();
    return id;
  }

  /** replay applies SPEC 3.2 to last id L: an optional reset element, then events to send. */
  replay(L) {
    const N = this.lastId;
    const O = this.ring.length > 0 ? this.ring[0].id : N + 1;
    if (L === undefined || L === N) return { events: [] };
    if (L > N || L < this.base) {
      return { reset: { id: N, event: "realtime.reset", data: { reason: "buffer_gap", lastKnownId: L } }, events: [] };
    }
    if (L >= O - 1) return { events: this.ring.filter((e) => e.id > L) };
    const data = { reason: "buffer_overrun", lastKnownId: L, oldestId: O };
    return { reset: { id: N, event: "realtime.reset", data }, events: this.ring.slice() };
  }
}

/**
 * startMockServer listens on 127.0.0.1, port 0. Options: secret (JWT HS256), retryMs (the
 * `retry:` hint), replayBuffer, maxSubscribersPerChannel, retryAfterSec (429 Retry-After).
 */
export async function startMockServer({ secret, retryMs = 50, replayBuffer = 50, maxSubscribersPerChannel = 1000, retryAfterSec = 1 }) {
  const channels = new Map();
  let highWater = 0; // every id issued so far is at or below it

  const channel = (name) => {
    let ch = channels.get(name);
    if (!ch) {
      const base = Math.max(Date.now() * 1000, highWater + 1);
      highWater = base;
      ch = new Channel(base, replayBuffer);
      channels.set(name, ch);
    }
    return ch;
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://mock");
    const route = /^\/(sse|poll)\/([^/]+)$/.exec(url.pathname);
    if (!route) return sendJSON(res, 404, { error: "not found" });
    if (req.method !== "GET") return sendJSON(res, 405, { error: "method not allowed" }, { Allow: "GET" });
    let name;
    try {
      name = decodeURIComponent(route[2]);
    } catch {
      return sendJSON(res, 400, { error: "bad channel" });
    }
    if (!CHANNEL_PATTERN.test(name)) return sendJSON(res, 400, { error: "bad channel" });
    const claims = verifyJwt(bearer(req, url), secret);
    if (!claims) return sendJSON(res, 401, { error: "unauthorized" }, { "WWW-Authenticate": "Bearer" });
    if (!matchesChannel(claims.channels, name)) return sendJSON(res, 403, { error: "forbidden" });
    const ch = channel(name);
    if (route[1] === "sse") return serveStream(ch, req, res, url);
    return servePoll(ch, res, url);
  });

  function serveStream(ch, req, res, url) {
    if (ch.subscribers.size >= maxSubscribersPerChannel) {
      return sendJSON(res, 429, { error: "too many subscribers" }, { "Retry-After": String(retryAfterSec) });
    }
    res.writeHead(200, {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-cache, no-transform",
      "X-Accel-Buffering": "no",
    });
    const { reset, events } = ch.replay(lastId(req.headers["last-event-id"]) ?? lastId(url.searchParams.get("lastEventId")));
    let head = `retry: ${retryMs}\n\n`;
    if (reset) head += `event: ${reset.event}\nid: ${reset.id}\ndata: ${JSON.stringify(reset.data)}\n\n`;
    for (const e of events) head += e.frame;
    res.write(head);
    ch.subscribers.add(res);
    res.on("close", () => ch.subscribers.delete(res));
  }

  function servePoll(ch, res, url) {
    const L = lastId(url.searchParams.get("lastEventId")) ?? ch.lastId;
    const waitSec = Math.min(30, Number(url.searchParams.get("wait")) || 0);
    const answer = () => {
      const { reset, events } = ch.replay(L);
      const out = events.map(({ id, event, data }) => ({ id, event, data }));
      if (reset) out.unshift(reset);
      sendJSON(res, 200, { events: out, lastId: ch.lastId });
    };
    const now = ch.replay(L);
    if (now.reset || now.events.length > 0 || waitSec === 0) return answer();
    // Long-poll: hold the request until an event is published or waitSec pass.
    const done = () => {
      clearTimeout(timer);
      ch.waiters.delete(wake);
    };
    const wake = () => {
      done();
      answer();
    };
    const timer = setTimeout(wake, waitSec * 1000);
    ch.waiters.add(wake);
    res.on("close", done); // the client gave up, or the answer went out
  }

  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    publish: async (name, event, data) => channel(name).publish(event, data),
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** lastId parses a last event id: a non-negative decimal integer, else undefined (SPEC 3.1). */
function lastId(value) {
  return typeof value === "string" && /^[0-9]+$/.test(value) ? Number(value) : undefined;
}

function bearer(req, url) {
  const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? "");
  return auth ? auth[1] : url.searchParams.get("token") ?? "";
}

function sendJSON(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text), ...headers });
  res.end(text);
}
