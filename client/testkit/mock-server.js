// A small in-process stand-in for the Go server, speaking its wire format (SPEC 3.1, 3.2, 3.5,
// 3.8, 3.9): GET /sse/{channel} and GET /poll/{channel}, the multiplexed GET /sse?channel=... and
// GET /poll?channel=..., JWT authorization (401/403), the per-channel subscriber cap (429 +
// Retry-After), replay by last id or cursor, realtime.reset frames followed by the buffer, and
// realtime.closed (revoke()). Publishing is an in-process call. Not covered: CORS, heartbeats,
// eviction, the authorizer (its 503s are the fault proxy's job), the publish endpoints.
import http from "node:http";
import { matchesChannel, verifyJwt } from "./jwt.js";

const CHANNEL_PATTERN = /^[a-zA-Z0-9:_.-]{1,128}$/;
const RESET = "realtime.reset";
const CLOSED = "realtime.closed";

/** Channel is one incarnation of a channel: id counter, replay ring, live subscribers. */
class Channel {
  constructor(name, base, capacity) {
    this.name = name;
    this.base = base; // ids of this incarnation are above it
    this.lastId = base; // N
    this.capacity = capacity;
    this.ring = []; // oldest first: { id, event, data, frame }
    this.sinks = new Set(); // (channel, entry) => void, one per open stream
    this.waiters = new Set(); // wake-up functions of held long-polls
  }

  publish(event, data) {
    const id = ++this.lastId;
    const entry = { id, event, data, frame: `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n` };
    this.ring.push(entry);
    if (this.ring.length > this.capacity) this.ring.shift();
    for (const sink of this.sinks) sink(this, entry);
    for (const wake of this.waiters) wake();
    return id;
  }

  /**
   * replay applies SPEC 3.2 to last id L: an optional reset { id, data }, then the events to
   * send. After a reset, all of the buffer follows: every buffered event is newer than what the
   * client knows.
   */
  replay(L) {
    const N = this.lastId;
    const O = this.ring.length > 0 ? this.ring[0].id : N + 1;
    if (L === undefined || L === N) return { events: [] };
    if (L > N || L < this.base) return { reset: { id: N, data: { reason: "buffer_gap", lastKnownId: L } }, events: this.ring.slice() };
    if (L >= O - 1) return { events: this.ring.filter((e) => e.id > L) };
    return { reset: { id: N, data: { reason: "buffer_overrun", lastKnownId: L, oldestId: O } }, events: this.ring.slice() };
  }
}

/**
 * encodeCursor and decodeCursor are the mock's cursor format: base64url of the JSON object
 * { channel: last id }, which uses only [A-Za-z0-9_-]. The client treats cursors as opaque; a
 * test may build one to resume from chosen positions.
 */
export function encodeCursor(positions) {
  return Buffer.from(JSON.stringify(positions)).toString("base64url");
}

/** decodeCursor returns the positions of a valid cursor as a Map, else undefined. */
export function decodeCursor(text) {
  if (typeof text !== "string" || !/^[A-Za-z0-9_-]+$/.test(text)) return undefined;
  try {
    const positions = JSON.parse(Buffer.from(text, "base64url").toString());
    if (positions === null || typeof positions !== "object" || Array.isArray(positions)) return undefined;
    const entries = Object.entries(positions);
    return entries.every(([, id]) => Number.isSafeInteger(id) && id >= 0) ? new Map(entries) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * startMockServer listens on 127.0.0.1, port 0. Options: secret (JWT HS256), retryMs (the
 * `retry:` hint, jittered per stream by up to 25 % like the server's), replayBuffer,
 * maxSubscribersPerChannel, retryAfterSec (429 Retry-After).
 *
 * revoke(reason) ends every open stream with a realtime.closed frame and answers every held
 * long-poll with a realtime.closed element, as the server does when a token is revoked;
 * heldPolls() says how many long-polls it would answer.
 */
export async function startMockServer({ secret, retryMs = 50, replayBuffer = 50, maxSubscribersPerChannel = 1000, retryAfterSec = 1 }) {
  const channels = new Map();
  const streams = new Set(); // ServerResponse of every open stream
  const held = new Set(); // answer(extra) of every held long-poll
  let highWater = 0; // every id issued so far is at or below it

  const channel = (name) => {
    let ch = channels.get(name);
    if (!ch) {
      const base = Math.max(Date.now() * 1000, highWater + 1);
      highWater = base;
      ch = new Channel(name, base, replayBuffer);
      channels.set(name, ch);
    }
    return ch;
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://mock");
    const route = /^\/(sse|poll)(?:\/([^/]+))?$/.exec(url.pathname);
    if (!route) return sendJSON(res, 404, { error: "not found" });
    if (req.method !== "GET") return sendJSON(res, 405, { error: "method not allowed" }, { Allow: "GET" });
    const names = route[2] === undefined ? [...new Set(url.searchParams.getAll("channel"))] : [decodePath(route[2])];
    if (names.length === 0) return sendJSON(res, 400, { error: "channel required" });
    if (!names.every((name) => name !== undefined && CHANNEL_PATTERN.test(name))) return sendJSON(res, 400, { error: "bad channel" });
    const claims = verifyJwt(bearer(req, url), secret);
    if (!claims) return sendJSON(res, 401, { error: "unauthorized" }, { "WWW-Authenticate": "Bearer" });
    const refused = names.find((name) => !matchesChannel(claims.channels, name));
    if (refused !== undefined) return sendJSON(res, 403, route[2] === undefined ? { error: "forbidden", channel: refused } : { error: "forbidden" });
    const chs = names.map(channel);
    if (route[2] !== undefined) {
      if (route[1] === "sse") return serveStream(chs[0], req, res, url);
      return servePoll(chs[0], res, url);
    }
    if (route[1] === "sse") return serveMuxStream(chs, req, res, url);
    return serveMuxPoll(chs, res, url);
  });

  /** openStream checks the subscriber cap, writes the headers and the head, and registers sink. */
  function openStream(chs, res, head, sink) {
    if (chs.some((ch) => ch.sinks.size >= maxSubscribersPerChannel)) {
      return sendJSON(res, 429, { error: "too many subscribers" }, { "Retry-After": String(retryAfterSec) });
    }
    res.writeHead(200, {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-cache, no-transform",
      "X-Accel-Buffering": "no",
    });
    res.write(head);
    for (const ch of chs) ch.sinks.add(sink);
    streams.add(res);
    res.on("close", () => {
      streams.delete(res);
      for (const ch of chs) ch.sinks.delete(sink);
    });
  }

  const retryField = () => `retry: ${Math.round(retryMs * (0.75 + Math.random() * 0.5))}\n`;

  function serveStream(ch, req, res, url) {
    const L = lastId(req.headers["last-event-id"]) ?? lastId(url.searchParams.get("lastEventId"));
    const { reset, events } = ch.replay(L);
    // Without a (valid) last id, the opening frame tells the client where it starts (SPEC 3.1).
    let head = L === undefined ? `${retryField()}id: ${ch.lastId}\n\n` : `${retryField()}\n`;
    if (reset) head += `event: ${RESET}\nid: ${reset.id}\ndata: ${JSON.stringify(reset.data)}\n\n`;
    for (const e of events) head += e.frame;
    const sink = (_, e) => res.write(e.frame);
    sink.close = () => res.end(`event: ${CLOSED}\ndata: ${JSON.stringify({ reason: "deleted" })}\n\n`);
    openStream([ch], res, head, sink);
  }

  function servePoll(ch, res, url) {
    const L = lastId(url.searchParams.get("lastEventId")) ?? ch.lastId;
    hold([ch], res, url, (extra) => {
      const { reset, events } = ch.replay(L);
      const out = events.map(({ id, event, data }) => ({ id, event, data }));
      if (reset) out.unshift({ id: reset.id, event: RESET, data: reset.data });
      return { events: [...out, ...extra], lastId: ch.lastId };
    });
  }

  /**
   * The multiplexed stream (SPEC 3.8): each channel resumes from its position in the cursor, or
   * starts from now when the cursor has none. The cursor on every frame holds each channel's
   * position as of that frame; the opening frame carries it when some channel started fresh.
   */
  function serveMuxStream(chs, req, res, url) {
    const given = decodeCursor(req.headers["last-event-id"]) ?? decodeCursor(url.searchParams.get("cursor")) ?? new Map();
    const positions = Object.fromEntries(chs.map((ch) => [ch.name, given.get(ch.name) ?? ch.lastId]));
    const frame = (event, data) => `id: ${encodeCursor(positions)}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    const event = (ch, e) => {
      positions[ch.name] = e.id;
      return frame(e.event, { channel: ch.name, id: e.id, data: e.data });
    };
    const fresh = chs.some((ch) => !given.has(ch.name));
    let head = fresh ? `${retryField()}id: ${encodeCursor(positions)}\n\n` : `${retryField()}\n`;
    for (const ch of chs) {
      const { reset, events } = ch.replay(positions[ch.name]);
      if (reset) {
        positions[ch.name] = reset.id;
        head += frame(RESET, { channel: ch.name, ...reset.data });
      }
      for (const e of events) head += event(ch, e);
    }
    const sink = (ch, e) => res.write(event(ch, e));
    let open = chs.length;
    sink.close = (ch) => {
      ch.sinks.delete(sink);
      res.write(frame(CLOSED, { channel: ch.name, reason: "deleted" }));
      if (--open === 0) res.end();
    };
    openStream(chs, res, head, sink);
  }

  function serveMuxPoll(chs, res, url) {
    const given = decodeCursor(url.searchParams.get("cursor")) ?? new Map();
    const from = chs.map((ch) => [ch, given.get(ch.name) ?? ch.lastId]);
    hold(chs, res, url, (extra) => {
      const out = [];
      for (const [ch, L] of from) {
        const { reset, events } = ch.replay(L);
        if (reset) out.push({ channel: ch.name, id: reset.id, event: RESET, data: { channel: ch.name, ...reset.data } });
        for (const { id, event, data } of events) out.push({ channel: ch.name, id, event, data });
      }
      const cursor = encodeCursor(Object.fromEntries(chs.map((ch) => [ch.name, ch.lastId])));
      return { events: [...out, ...extra], cursor };
    });
  }

  /**
   * hold answers a poll with build(extra) at once when there is something to say or no wait=;
   * else it holds the request until an event is published on one of chs, wait= passes, or
   * revoke() adds its realtime.closed element to extra.
   */
  function hold(chs, res, url, build) {
    const waitSec = Math.min(30, Number(url.searchParams.get("wait")) || 0);
    const now = build([]);
    if (now.events.length > 0 || waitSec === 0) return sendJSON(res, 200, now);
    const done = () => {
      clearTimeout(timer);
      for (const ch of chs) ch.waiters.delete(wake);
      held.delete(answer);
    };
    const answer = (extra) => {
      done();
      sendJSON(res, 200, build(extra));
    };
    const wake = () => answer([]);
    const timer = setTimeout(wake, waitSec * 1000);
    for (const ch of chs) ch.waiters.add(wake);
    held.add(answer);
    res.on("close", done); // the client gave up, or the answer went out
  }

  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    publish: async (name, event, data) => channel(name).publish(event, data),
    revoke: async (reason = "revoked") => {
      const data = { reason };
      for (const res of streams) res.end(`event: ${CLOSED}\ndata: ${JSON.stringify(data)}\n\n`);
      for (const answer of held) answer([{ event: CLOSED, data }]);
    },
    /** deleteChannel(name) ends the channel's streams as DELETE /channels/{name} does; resolves to how many. */
    deleteChannel: async (name) => {
      const ch = channels.get(name);
      if (!ch) return 0;
      const sinks = [...ch.sinks];
      for (const sink of sinks) sink.close(ch);
      channels.delete(name);
      highWater = Math.max(highWater, ch.lastId);
      return sinks.length;
    },
    heldPolls: () => held.size,
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

function decodePath(segment) {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
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
