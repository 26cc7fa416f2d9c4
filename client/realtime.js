// realtime.js: the browser/Node/Bun client of the realtime SSE server (SPEC section 6).
//
// ESM, no dependencies. The server serves this file alone at /realtime.js, so it must stay
// self-contained: no relative imports. It holds three parts:
//
//   1. EventStreamParser: the WHATWG event-stream parser (bytes in, events out).
//   2. subscribe(): one stream loop (fetch + ReadableStream, reconnect with backoff) and, when a
//      fallbackPollingUrl is given, a poll loop that runs only while no stream is open.
//   3. Small helpers: backoff, Retry-After, query-string editing, id conversion.

// ---------------------------------------------------------------------------------------------
// 1. Event-stream parser
// ---------------------------------------------------------------------------------------------

const LF = 0x0a;
const CR = 0x0d;

/**
 * EventStreamParser implements the "event stream interpretation" of the WHATWG HTML standard
 * (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation).
 *
 * Feed it the body bytes with push(), in chunks split anywhere (inside a line, inside a CRLF,
 * inside a multi-byte UTF-8 character). Handlers:
 *   onEvent({ type, data, lastEventId }): one dispatched event; type defaults to "message".
 *   onRetry(ms): a valid `retry:` field.
 *   onComment(text): a comment line (`:` and the text after it).
 * `lastEventId` is the standard's "last event ID string": it is set at every dispatch, including
 * the dispatch of a block with no data (which fires no event). One parser serves one stream; it is
 * not safe to share between streams, and it keeps no reference to the chunks it was given.
 */
export class EventStreamParser {
  /** The last event ID string: the id buffer as of the latest dispatch. */
  lastEventId = "";

  #decoder = new TextDecoder("utf-8"); // strips one leading BOM; keeps split characters between calls
  #line = ""; // text of the current line, not yet terminated
  #skipLF = false; // the last chunk ended in CR, so a LF opening the next chunk ends no new line
  #data = ""; // data buffer: each data field's value plus "\n"
  #type = ""; // event type buffer
  #idBuffer = ""; // last event ID buffer
  #handlers;

  constructor(handlers = {}) {
    this.#handlers = handlers;
  }

  /** Parses the next chunk of the body (a Uint8Array). */
  push(chunk) {
    this.#pushText(this.#decoder.decode(chunk, { stream: true }));
  }

  /** Ends the stream. An event not yet terminated by a blank line is discarded, per the standard. */
  end() {
    this.#decoder.decode();
    this.#line = "";
    this.#data = "";
    this.#type = "";
  }

  // Splits text into lines. CR, LF and CRLF each end a line. A line ending in CR is processed at
  // once (an event is never held back waiting for the next chunk); if that CR was the last
  // character of the chunk, #skipLF remembers to drop a LF at the start of the next chunk, so a
  // CRLF split across two chunks still counts as one line end.
  #pushText(text) {
    let start = 0;
    if (this.#skipLF && text.length > 0) {
      if (text.charCodeAt(0) === LF) start = 1;
      this.#skipLF = false;
    }
    for (let i = start; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== LF && c !== CR) continue;
      const line = this.#line + text.slice(start, i);
      this.#line = "";
      if (c === CR) {
        if (i + 1 === text.length) this.#skipLF = true;
        else if (text.charCodeAt(i + 1) === LF) i++;
      }
      start = i + 1;
      this.#processLine(line);
    }
    this.#line += text.slice(start);
  }

  #processLine(line) {
    if (line === "") {
      this.#dispatch();
      return;
    }
    const colon = line.indexOf(":");
    if (colon === 0) {
      this.#handlers.onComment?.(line.slice(1));
      return;
    }
    let field = line;
    let value = "";
    if (colon > 0) {
      field = line.slice(0, colon);
      value = line.slice(colon + 1);
      if (value.charCodeAt(0) === 0x20) value = value.slice(1); // one optional space
    }
    this.#processField(field, value);
  }

  #processField(field, value) {
    switch (field) {
      case "event":
        this.#type = value;
        break;
      case "data":
        this.#data += value + "\n";
        break;
      case "id":
        if (!value.includes("\0")) this.#idBuffer = value;
        break;
      case "retry":
        if (/^[0-9]+$/.test(value)) this.#handlers.onRetry?.(Number.parseInt(value, 10));
        break;
      default: // unknown fields are ignored
    }
  }

  // The id buffer survives the dispatch (an event without `id:` inherits the previous id); the
  // data and type buffers do not. A block without data updates lastEventId and fires nothing.
  #dispatch() {
    this.lastEventId = this.#idBuffer;
    const data = this.#data;
    const type = this.#type;
    this.#data = "";
    this.#type = "";
    if (data === "") return;
    this.#handlers.onEvent?.({ type: type || "message", data: data.slice(0, -1), lastEventId: this.lastEventId });
  }
}

// ---------------------------------------------------------------------------------------------
// 2. subscribe()
// ---------------------------------------------------------------------------------------------

const RESET_EVENT = "realtime.reset";
const DEFAULT_INITIAL_MS = 500;
const DEFAULT_MAX_MS = 10_000;
const DEFAULT_POLLING_AFTER_MS = 45_000;
const POLL_WAIT_S = 25;
/** A stream open at least this long counts as a good connection even if it carried no event. */
const STABLE_MS = 5_000;

/** RealtimeError reports an HTTP answer (status set) or a protocol problem (cause set). */
export class RealtimeError extends Error {
  constructor(message, { status, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "RealtimeError";
    this.status = status;
  }
}

/**
 * subscribe opens a stream on url and keeps it open until unsubscribe(): see SPEC section 6 and
 * realtime.d.ts for the options. It returns at once; connecting happens in the background.
 */
export function subscribe(url, options = {}) {
  const sub = new Subscription(String(url), options);
  sub.start();
  return {
    unsubscribe: () => sub.close(),
    get lastEventId() {
      return sub.lastEventId;
    },
  };
}

/**
 * Subscription is the state behind one subscribe() call. Two loops run on it:
 *
 *   stream loop (always):   connect -> read until the body ends -> wait backoff -> connect ...
 *   poll loop (sometimes):  started when no stream has been open for pollingAfterMs, stopped
 *                           (in-flight poll aborted) the moment a stream opens again.
 *
 *   no stream --pollingAfterMs--> polling --stream opens--> streaming --stream ends--> no stream
 *
 * JavaScript runs one callback at a time, so "a stream is open" and "a poll is delivering" never
 * overlap within a tick; #accept() handles the one real race (a poll that answered after the
 * stream request left). close() ends both loops: every fetch is aborted, every timer cleared, and
 * #closed stops every callback, so nothing runs after unsubscribe().
 */
class Subscription {
  /** Id of the last event delivered (number when it is a safe integer), or undefined. */
  lastEventId;

  #url; // the stream URL as given; lastEventId is set on it per attempt
  #opts; // the options passed to subscribe(), read as needed (callbacks, token, headers, ...)
  #fetch; // (url, init) => Promise<Response>
  #backoff; // { initialMs, maxMs }, defaults applied
  #closed = false; // set once by close()
  #streamScope = new Scope(); // the stream loop's fetches and backoff waits
  #streamOpen = false; // a stream answered 200 text/event-stream and its body is being read
  #retryHintMs = 0; // the latest `retry:` field; a floor for reconnect delays
  #pollTimer = null; // counts pollingAfterMs down to the start of the poll loop
  #poller = null; // Scope of the running poll loop, or null when not polling

  constructor(url, opts) {
    this.#url = url;
    this.#opts = opts;
    const fetch = opts.fetch ?? globalThis.fetch;
    if (typeof fetch !== "function") throw new TypeError("realtime: no fetch available; pass options.fetch");
    // Called as a plain function: a browser's fetch throws "Illegal invocation" when its `this`
    // is anything but the global object or undefined.
    this.#fetch = (url, init) => fetch(url, init);
    this.#backoff = {
      initialMs: opts.backoff?.initialMs ?? DEFAULT_INITIAL_MS,
      maxMs: opts.backoff?.maxMs ?? DEFAULT_MAX_MS,
    };
    if (opts.lastEventId !== undefined && opts.lastEventId !== null) this.lastEventId = toId(String(opts.lastEventId));
  }

  start() {
    this.#armPolling();
    this.#streamLoop();
  }

  close() {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#pollTimer);
    this.#pollTimer = null;
    this.#stopPolling();
    this.#streamScope.close();
  }

  // --- stream loop ---------------------------------------------------------------------------

  async #streamLoop() {
    let attempt = 0; // reconnect attempts since the last good connection
    while (!this.#closed) {
      const { good = false, stop = false, floorMs = 0 } = await this.#streamOnce();
      if (this.#closed || stop) return;
      attempt = good ? 1 : attempt + 1;
      this.#emit("onReconnect", attempt);
      const hint = Math.min(this.#retryHintMs, this.#backoff.maxMs);
      await this.#streamScope.sleep(backoffDelay(attempt, this.#backoff, Math.max(floorMs, hint)));
    }
  }

  /** One stream request, from token() to the end of the body. Never rejects. */
  async #streamOnce() {
    const ctl = this.#streamScope.controller();
    try {
      const headers = await this.#headers("text/event-stream");
      if (this.#closed) return {};
      if (this.lastEventId !== undefined) headers.set("Last-Event-ID", String(this.lastEventId));
      const reply = this.#newReply();
      const url = withQuery(this.#url, { lastEventId: this.lastEventId });
      const res = await this.#fetch(url, this.#init(headers, ctl));
      if (!isEventStream(res)) return this.#refused(res);
      return await this.#readStream(res, reply);
    } catch (err) {
      this.#report(err); // network error, token() failure, or the body broke off
      return {};
    } finally {
      this.#streamScope.release(ctl);
      if (this.#streamOpen) {
        this.#streamOpen = false;
        this.#armPolling();
      }
    }
  }

  /** Reads an open stream until it ends. Resolves with whether it was a good connection. */
  async #readStream(res, reply) {
    this.#opened();
    const openedAt = Date.now();
    let dispatched = 0;
    const parser = new EventStreamParser({
      onEvent: (ev) => {
        dispatched++;
        this.#onStreamEvent(reply, ev);
      },
      onRetry: (ms) => {
        this.#retryHintMs = ms;
      },
    });
    const reader = res.body.getReader();
    let idSeen = "";
    while (!this.#closed) {
      const { done, value } = await reader.read();
      if (done) break;
      parser.push(value);
      // A block with an id but no data fires no event yet moves the last event id.
      if (parser.lastEventId !== idSeen) {
        idSeen = parser.lastEventId;
        this.#accept(reply, null, idSeen);
      }
    }
    parser.end();
    return { good: dispatched > 0 || Date.now() - openedAt >= STABLE_MS };
  }

  #opened() {
    this.#streamOpen = true;
    clearTimeout(this.#pollTimer);
    this.#pollTimer = null;
    this.#stopPolling();
    this.#emit("onOpen");
  }

  #onStreamEvent(reply, { type, data, lastEventId }) {
    if (this.#closed || !this.#accept(reply, type, lastEventId)) return;
    let value = data;
    let parseError;
    try {
      value = JSON.parse(data);
    } catch (err) {
      parseError = err;
    }
    this.#emit("onEvent", type, value, toId(lastEventId));
    if (parseError) this.#report(new RealtimeError(`realtime: data of event ${lastEventId} is not JSON`, { cause: parseError }));
  }

  /**
   * Handles an answer that is not an open stream (stream or poll request) and tells the loop
   * what to do next: stop for good (403), or retry no sooner than floorMs (429/503 Retry-After).
   */
  #refused(res) {
    res.body?.cancel().catch(() => {});
    const what = res.ok ? `content-type ${res.headers.get("content-type")}` : `status ${res.status}`;
    const err = new RealtimeError(`realtime: ${res.url || "server"} answered ${what}`, { status: res.status });
    if (res.status === 403) {
      this.#report(err);
      this.close();
      return { stop: true };
    }
    this.#report(err); // 401: token() runs again before the next attempt
    if (res.status === 429 || res.status === 503) return { floorMs: retryAfterMs(res.headers.get("retry-after")) };
    return {};
  }

  // --- poll loop -----------------------------------------------------------------------------

  /** Starts the pollingAfterMs countdown unless there is no fallback, a stream, or a poller. */
  #armPolling() {
    if (!this.#opts.fallbackPollingUrl || this.#closed || this.#streamOpen) return;
    if (this.#pollTimer !== null || this.#poller !== null) return;
    const after = this.#opts.pollingAfterMs ?? DEFAULT_POLLING_AFTER_MS;
    this.#pollTimer = setTimeout(() => {
      this.#pollTimer = null;
      if (this.#closed || this.#streamOpen) return;
      this.#poller = new Scope();
      this.#pollLoop(this.#poller);
    }, after);
  }

  #stopPolling() {
    this.#poller?.close();
    this.#poller = null;
  }

  // Polls back to back while events flow; waits initialMs after an empty answer (a server that
  // ignores wait= would otherwise be hammered) and backs off after failures.
  async #pollLoop(poller) {
    let failures = 0;
    while (!poller.closed) {
      const { ok = false, delivered = 0, stop = false, floorMs = 0 } = await this.#pollOnce(poller);
      if (poller.closed || stop) return;
      failures = ok ? 0 : failures + 1;
      let ms = 0;
      if (!ok) ms = backoffDelay(failures, this.#backoff, floorMs);
      else if (delivered === 0) ms = this.#backoff.initialMs;
      await poller.sleep(ms);
    }
  }

  async #pollOnce(poller) {
    const ctl = poller.controller();
    try {
      const headers = await this.#headers("application/json");
      if (poller.closed) return {};
      const reply = this.#newReply();
      const query = { lastEventId: this.lastEventId, wait: POLL_WAIT_S };
      const res = await this.#fetch(withQuery(this.#opts.fallbackPollingUrl, query), this.#init(headers, ctl));
      if (poller.closed) return {}; // a stream opened meanwhile: this answer no longer matters
      if (!res.ok) return this.#refused(res);
      const body = await res.json();
      if (poller.closed) return {}; // a stream opened meanwhile: it delivers from here on
      return { ok: true, delivered: this.#onPollReply(reply, body) };
    } catch (err) {
      if (!poller.closed) this.#report(err);
      return {};
    } finally {
      poller.release(ctl);
    }
  }

  /** Delivers the events of one poll answer; returns how many were delivered. */
  #onPollReply(reply, body) {
    let delivered = 0;
    for (const ev of body?.events ?? []) {
      if (this.#closed) return delivered;
      const type = ev.event ?? "message";
      const rawId = ev.id === undefined || ev.id === null ? "" : String(ev.id);
      if (!this.#accept(reply, type, rawId)) continue;
      delivered++;
      this.#emit("onEvent", type, ev.data, toId(rawId));
    }
    if (body?.lastId !== undefined && body.lastId !== null) this.#accept(reply, null, String(body.lastId));
    return delivered;
  }

  // --- delivery ------------------------------------------------------------------------------

  /** A reply is one server answer (a stream or a poll); #accept tracks what it has seen. */
  #newReply() {
    return { known: this.lastEventId, reset: false };
  }

  /**
   * Decides whether an event of `reply` is new to the client and, if so, advances lastEventId.
   * type is null for an id without an event (an empty SSE block, a poll's lastId).
   *
   * Ids only go up within one server answer, so duplicates can only come from two answers
   * overlapping: a poll that delivered events after the stream request left with an older id,
   * which the stream then replays. Hence:
   *  - an event whose numeric id is at or below lastEventId is a duplicate and is dropped,
   *    except after this reply opened with a realtime.reset: an overrun reset (id N) is followed
   *    by the buffered events, whose ids are at or below N and are all new to the client;
   *  - a reset answers the id its request carried; if lastEventId has moved since (reply.known
   *    differs), another answer already resynchronised the client and the reset is dropped.
   */
  #accept(reply, type, rawId) {
    const id = rawId === "" ? undefined : toId(rawId);
    if (type === RESET_EVENT) {
      if (this.lastEventId !== reply.known) return false;
      reply.reset = true;
    } else if (!reply.reset && typeof id === "number" && typeof this.lastEventId === "number" && id <= this.lastEventId) {
      return false;
    }
    if (id !== undefined) this.lastEventId = id;
    reply.known = this.lastEventId;
    return true;
  }

  // --- plumbing ------------------------------------------------------------------------------

  /** Request headers for one attempt; token() is called every time, so it can refresh. */
  async #headers(accept) {
    const headers = new Headers(this.#opts.headers);
    headers.set("Accept", accept);
    const token = this.#opts.token ? await this.#opts.token() : undefined;
    if (token) headers.set("Authorization", `Bearer ${token}`);
    return headers;
  }

  #init(headers, ctl) {
    return { method: "GET", headers, credentials: this.#opts.credentials ?? "same-origin", signal: ctl.signal };
  }

  /** Calls a user callback unless closed. A throwing callback is reported, never fatal to the loops. */
  #emit(name, ...args) {
    const fn = this.#opts[name];
    if (this.#closed || typeof fn !== "function") return;
    try {
      fn(...args);
    } catch (err) {
      if (name !== "onError" && typeof this.#opts.onError === "function") this.#emit("onError", err);
      else rethrowLater(err);
    }
  }

  #report(err) {
    this.#emit("onError", err);
  }
}

/**
 * Scope owns the timers and fetch controllers of one activity (the stream loop, or one run of
 * the poll loop); close() cancels all of them at once and makes sleep() resolve immediately.
 */
class Scope {
  closed = false;
  #timers = new Map(); // timeout handle -> resolve of the sleep() waiting on it
  #controllers = new Set(); // AbortControllers of requests in flight

  sleep(ms) {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        resolve();
      }, ms);
      this.#timers.set(timer, resolve);
    });
  }

  controller() {
    const ctl = new AbortController();
    if (this.closed) ctl.abort();
    else this.#controllers.add(ctl);
    return ctl;
  }

  release(ctl) {
    this.#controllers.delete(ctl);
  }

  close() {
    this.closed = true;
    for (const [timer, resolve] of this.#timers) {
      clearTimeout(timer);
      resolve();
    }
    this.#timers.clear();
    for (const ctl of this.#controllers) ctl.abort();
    this.#controllers.clear();
  }
}

// ---------------------------------------------------------------------------------------------
// 3. Helpers
// ---------------------------------------------------------------------------------------------

/**
 * backoffDelay returns the wait in ms before reconnect attempt n (1, 2, ...): "equal jitter"
 * over an exponential ceiling, i.e. uniform in [c/2, c] with c = min(maxMs, initialMs * 2^(n-1)),
 * and never less than floorMs (a Retry-After, or the server's retry: hint). Half the ceiling is
 * kept so a crowd of clients spreads out without any of them retrying at once.
 */
export function backoffDelay(attempt, { initialMs = DEFAULT_INITIAL_MS, maxMs = DEFAULT_MAX_MS } = {}, floorMs = 0, random = Math.random) {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.max(floorMs, ceiling / 2 + (random() * ceiling) / 2);
}

/** Parses Retry-After (delta seconds or an HTTP date) into ms from now; 0 when absent or invalid. */
function retryAfterMs(value) {
  if (!value) return 0;
  const text = value.trim();
  if (/^[0-9]+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? 0 : Math.max(0, at - Date.now());
}

function isEventStream(res) {
  return res.ok && /^text\/event-stream\s*(;|$)/i.test(res.headers.get("content-type") ?? "") && res.body != null;
}

/** Ids that are decimal safe integers become numbers; any other id stays a string. */
function toId(raw) {
  if (/^[0-9]+$/.test(raw)) {
    const n = Number(raw);
    if (Number.isSafeInteger(n)) return n;
  }
  return raw;
}

/**
 * withQuery sets query parameters on a URL (absolute or relative), replacing earlier values of
 * the same names and keeping every other parameter byte for byte. Undefined values are skipped:
 * with no last id yet, a lastEventId the caller put in the URL is sent as it is.
 */
function withQuery(url, params) {
  params = Object.fromEntries(Object.entries(params).filter(([, value]) => value !== undefined));
  const hashAt = url.indexOf("#");
  const hash = hashAt < 0 ? "" : url.slice(hashAt);
  const rest = hashAt < 0 ? url : url.slice(0, hashAt);
  const q = rest.indexOf("?");
  const path = q < 0 ? rest : rest.slice(0, q);
  const pairs = q < 0 ? [] : rest.slice(q + 1).split("&");
  const kept = pairs.filter((p) => p !== "" && !Object.hasOwn(params, paramName(p)));
  for (const [name, value] of Object.entries(params)) kept.push(`${encodeURIComponent(name)}=${encodeURIComponent(String(value))}`);
  return (kept.length > 0 ? `${path}?${kept.join("&")}` : path) + hash;
}

function paramName(pair) {
  const eq = pair.indexOf("=");
  const raw = eq < 0 ? pair : pair.slice(0, eq);
  try {
    return decodeURIComponent(raw.replace(/\+/g, " "));
  } catch {
    return raw;
  }
}

/** Surfaces an error thrown by onError (or by a callback when there is no onError) as uncaught. */
function rethrowLater(err) {
  if (typeof globalThis.reportError === "function") globalThis.reportError(err);
  else queueMicrotask(() => {
    throw err;
  });
}
