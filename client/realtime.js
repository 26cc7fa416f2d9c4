// realtime.js: the browser/Node/Bun client of the realtime SSE server (SPEC section 6).
//
// ESM, no dependencies. The server serves this file alone at /realtime.js, so it must stay
// self-contained: no relative imports. It holds three parts:
//
//   1. EventStreamParser: the WHATWG event-stream parser (bytes in, events out).
//   2. subscribe(): one stream loop (fetch + ReadableStream, a liveness watchdog, reconnect with
//      backoff) and, when a fallbackPollingUrl is given, a poll loop that runs only while no
//      stream is open; over one channel (/sse/<channel>) or several multiplexed (/sse?channel=).
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
const CLOSED_EVENT = "realtime.closed";
const DEFAULT_INITIAL_MS = 500;
const DEFAULT_MAX_MS = 10_000;
const DEFAULT_POLLING_AFTER_MS = 45_000;
/** 2.5 times the server's default heartbeat interval (30 s): one late heartbeat is not a dead stream. */
const DEFAULT_LIVENESS_MS = 75_000;
const POLL_WAIT_S = 25;
/** A stream open at least this long counts as a good connection even if it carried no event. */
const STABLE_MS = 5_000;
/** setTimeout runs a longer delay at once (it overflows 32 bits), so every timer is capped to it (24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * RealtimeError reports an HTTP refusal (status set; on a 403, channel names the channel the
 * server refused, when it says), a realtime.closed frame (reason set), a stream given up as dead,
 * or a protocol problem (cause set).
 */
export class RealtimeError extends Error {
  constructor(message, { status, cause, reason, channel } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "RealtimeError";
    this.status = status;
    this.reason = reason;
    this.channel = channel;
  }
}

/**
 * subscribe opens a stream and keeps it open until unsubscribe(): see SPEC section 6 and
 * realtime.d.ts for the options. target is a URL (`/sse/<channel>`), or `{ channels, url }` for
 * one multiplexed stream over several channels (SPEC 3.8). It returns at once; connecting
 * happens in the background.
 */
export function subscribe(target, options = {}) {
  const multiplexed = target !== null && typeof target === "object" && "channels" in target;
  const wire = multiplexed ? new MultiplexWire(target, options.cursor) : new ChannelWire(String(target), options.lastEventId);
  const sub = new Subscription(wire, options);
  sub.start();
  const handle = {
    unsubscribe: () => sub.close(),
    get lastEventId() {
      return wire.position;
    },
  };
  if (multiplexed) Object.defineProperty(handle, "cursor", { enumerable: true, get: () => wire.cursor });
  return handle;
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
 * A Watchdog gives up a stream request that shows no byte for livenessMs; in a browser, the
 * page coming back online or into view checks the stream at once (#check). What the wire
 * format says (URLs, ids, which event is new) is the wire's business: a ChannelWire or a
 * MultiplexWire; this class only moves bytes, times and callbacks.
 *
 * JavaScript runs one callback at a time, so "a stream is open" and "a poll is delivering" never
 * overlap within a tick; Positions.accept handles the one real race (a poll that answered after
 * the stream request left). close() ends both loops: every fetch is aborted, every timer and
 * listener removed, and #closed stops every callback, so nothing runs after unsubscribe().
 */
class Subscription {
  #wire; // ChannelWire or MultiplexWire
  #opts; // the options passed to subscribe(), read as needed (callbacks, token, headers, ...)
  #fetch; // (url, init) => Promise<Response>
  #backoff; // { initialMs, maxMs }, defaults applied
  #livenessMs;
  #closed = false; // set once by close()
  #streamScope = new Scope(); // the stream loop's fetches and backoff waits
  #streamOpen = false; // a stream answered 200 text/event-stream and its body is being read
  #watchdog = null; // the Watchdog of the stream request in flight, or null between requests
  #retryHintMs = 0; // the latest `retry:` field; a floor for reconnect delays
  #pollTimer = null; // counts pollingAfterMs down to the start of the poll loop
  #poller = null; // Scope of the running poll loop, or null when not polling
  #unlisten = null; // removes the browser listeners added by #listen()

  constructor(wire, opts) {
    this.#wire = wire;
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
    this.#livenessMs = opts.livenessMs ?? DEFAULT_LIVENESS_MS;
  }

  start() {
    this.#listen();
    this.#armPolling();
    this.#streamLoop();
  }

  close() {
    if (this.#closed) return;
    this.#closed = true;
    this.#unlisten();
    clearTimeout(this.#pollTimer);
    this.#pollTimer = null;
    this.#stopPolling();
    this.#watchdog?.stop();
    this.#streamScope.close();
  }

  // --- stream loop ---------------------------------------------------------------------------

  async #streamLoop() {
    let attempt = 0; // reconnect attempts since the last good connection
    while (!this.#closed) {
      const { good = false, stop = false, retryAfterMs = 0 } = await this.#streamOnce();
      if (this.#closed || stop) return;
      attempt = good ? 1 : attempt + 1;
      this.#emit("onReconnect", attempt);
      await this.#streamScope.sleep(backoffDelay(attempt, this.#backoff, Math.max(this.#retryHintMs, retryAfterMs)));
    }
  }

  /**
   * One stream request, from token() to the end of the body. Never rejects. Resolves with what
   * the loop needs: stop (403), retryAfterMs (429/503), and good: the stream delivered an event
   * or stayed open STABLE_MS, however it ended (cleanly, broken, or given up by the watchdog).
   */
  async #streamOnce() {
    const ctl = this.#streamScope.controller();
    const seen = { openedAt: undefined, events: 0 };
    let watchdog;
    try {
      const headers = await this.#headers("text/event-stream");
      if (this.#closed) return {};
      const { url, resume } = this.#wire.stream();
      if (resume !== undefined) headers.set("Last-Event-ID", resume);
      const reply = this.#wire.newReply();
      watchdog = this.#watchdog = new Watchdog(this.#livenessMs, ctl);
      const res = await this.#fetch(url, this.#init(headers, ctl));
      watchdog.touch();
      if (!isEventStream(res)) return await this.#refused(res);
      await this.#readStream(res, reply, seen, watchdog);
    } catch (err) {
      // The watchdog's abort surfaces as an AbortError: report what happened instead.
      this.#report(watchdog?.dead ? new RealtimeError(`realtime: the stream showed no byte for ${this.#livenessMs} ms; reconnecting`) : err);
    } finally {
      watchdog?.stop();
      this.#watchdog = null;
      this.#streamScope.release(ctl);
      if (this.#streamOpen) {
        this.#streamOpen = false;
        this.#armPolling();
      }
    }
    return { good: seen.openedAt !== undefined && (seen.events > 0 || Date.now() - seen.openedAt >= STABLE_MS) };
  }

  /** Reads an open stream until it ends, counting its events into seen. */
  async #readStream(res, reply, seen, watchdog) {
    this.#opened();
    seen.openedAt = Date.now();
    const parser = new EventStreamParser({
      onEvent: (ev) => {
        seen.events++;
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
      watchdog.touch();
      parser.push(value);
      // A block with an id but no data fires no event yet moves the last event id; unless the
      // chunk closed the subscription, whose position must stay at the last event delivered.
      if (!this.#closed && parser.lastEventId !== idSeen) {
        idSeen = parser.lastEventId;
        this.#wire.id(reply, idSeen);
      }
    }
    parser.end();
  }

  #opened() {
    this.#streamOpen = true;
    clearTimeout(this.#pollTimer);
    this.#pollTimer = null;
    this.#stopPolling();
    this.#emit("onOpen");
  }

  #onStreamEvent(reply, { type, data, lastEventId }) {
    if (this.#closed) return;
    if (type === CLOSED_EVENT) this.#closedByServer(parseJSON(data).value);
    else this.#deliver(this.#wire.frame(reply, type, data, lastEventId));
  }

  /**
   * Handles an answer that is not an open stream (stream or poll request) and tells the loop
   * what to do next: stop for good (403), or retry no sooner than retryAfterMs (429/503).
   */
  async #refused(res) {
    const what = res.ok ? `content-type ${res.headers.get("content-type")}` : `status ${res.status}`;
    const message = `realtime: ${res.url || "server"} answered ${what}`;
    if (res.status === 403 || res.status === 400) {
      // The last word of the subscription (a 400 — a bad channel name, too many channels — would
      // be answered the same way every time): its body says why, and which channel.
      const body = await res.json().catch(() => undefined);
      const channel = typeof body?.channel === "string" ? body.channel : undefined;
      const why = typeof body?.error === "string" ? `: ${body.error}` : "";
      this.#report(new RealtimeError(`${message}${why}${channel === undefined ? "" : ` (channel ${channel})`}`, { status: res.status, channel }));
      this.close();
      return { stop: true };
    }
    res.body?.cancel().catch(() => {});
    this.#report(new RealtimeError(message, { status: res.status })); // 401: token() runs again before the next attempt
    if (res.status === 429 || res.status === 503) return { retryAfterMs: retryAfterMs(res.headers.get("retry-after")) };
    return {};
  }

  /**
   * realtime.closed (SPEC 3.9): the server will not serve this subscription again — or, on a
   * multiplexed one, the channel it names: that channel is dropped and the others go on, until
   * none is left.
   */
  #closedByServer(data) {
    const reason = typeof data?.reason === "string" ? data.reason : undefined;
    const why = reason === undefined ? "" : `: ${reason}`;
    const left = this.#wire.dropChannel(data?.channel);
    if (left > 0) {
      const channel = data.channel;
      this.#report(new RealtimeError(`realtime: the server closed channel ${channel}${why}`, { reason, channel }));
      return;
    }
    this.#report(new RealtimeError(`realtime: the server closed the subscription${why}`, { reason, channel: data?.channel }));
    this.close();
  }

  // --- liveness ------------------------------------------------------------------------------

  /**
   * In a browser, coming back online or to a visible page checks the stream at once (#check):
   * timers of a hidden page are throttled and a sleeping machine runs none, so the watchdog and
   * a backoff wait may both be far behind by then.
   */
  #listen() {
    const win = typeof window === "undefined" ? undefined : window;
    const doc = typeof document === "undefined" ? undefined : document;
    const onOnline = () => this.#check();
    const onVisibility = () => {
      if (doc.visibilityState === "visible") this.#check();
    };
    win?.addEventListener?.("online", onOnline);
    doc?.addEventListener?.("visibilitychange", onVisibility);
    this.#unlisten = () => {
      win?.removeEventListener?.("online", onOnline);
      doc?.removeEventListener?.("visibilitychange", onVisibility);
    };
  }

  /** A stream request in flight gets the liveness rule now; a pending backoff wait ends now. */
  #check() {
    if (this.#closed) return;
    if (this.#watchdog) this.#watchdog.check();
    else this.#streamScope.wake();
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
    }, Math.min(after, MAX_TIMER_MS));
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
      const { ok = false, delivered = 0, stop = false, retryAfterMs = 0 } = await this.#pollOnce(poller);
      if (poller.closed || stop) return;
      failures = ok ? 0 : failures + 1;
      let ms = 0;
      if (!ok) ms = backoffDelay(failures, this.#backoff, retryAfterMs);
      else if (delivered === 0) ms = this.#backoff.initialMs;
      await poller.sleep(ms);
    }
  }

  async #pollOnce(poller) {
    const ctl = poller.controller();
    try {
      const headers = await this.#headers("application/json");
      if (poller.closed) return {};
      const reply = this.#wire.newReply();
      const res = await this.#fetch(this.#wire.pollUrl(this.#opts.fallbackPollingUrl), this.#init(headers, ctl));
      if (poller.closed) return {}; // a stream opened meanwhile: this answer no longer matters
      if (!res.ok) return await this.#refused(res);
      const body = await res.json();
      if (poller.closed) return {}; // a stream opened meanwhile: it delivers from here on
      return { ok: true, delivered: this.#onPollReply(reply, body ?? {}) };
    } catch (err) {
      if (!poller.closed) this.#report(err);
      return {};
    } finally {
      poller.release(ctl);
    }
  }

  /** Delivers the events of one poll answer, up to a realtime.closed; returns how many were delivered. */
  #onPollReply(reply, body) {
    let delivered = 0;
    for (const ev of body.events ?? []) {
      if (this.#closed) return delivered;
      if (ev.event === CLOSED_EVENT) {
        this.#closedByServer(ev.data);
        return delivered;
      }
      if (this.#deliver(this.#wire.pollEvent(reply, ev))) delivered++;
    }
    this.#wire.pollEnd(reply, body);
    return delivered;
  }

  // --- plumbing ------------------------------------------------------------------------------

  /** Hands what the wire made of an event to onEvent (and its error to onError); true if onEvent was called. */
  #deliver(delivery) {
    if (!delivery) return false;
    if (delivery.args) this.#emit("onEvent", ...delivery.args);
    if (delivery.error) this.#report(delivery.error);
    return delivery.args !== undefined;
  }

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

// --- wire formats ----------------------------------------------------------------------------
//
// A wire knows one protocol: the request URLs and resume header, and what each event of a reply
// (one stream, or one poll answer) means. frame() and pollEvent() return a delivery,
// { args, error }: args for onEvent (absent when there is nothing to deliver) and an error for
// onError; or null for a duplicate. realtime.closed never reaches a wire.

/** The key of the one channel of a single-channel subscription in its Positions. */
const ONLY = "";

/**
 * ChannelWire speaks the single-channel protocol (SPEC 3.1-3.5): GET /sse/<channel> with the
 * last id as Last-Event-ID and ?lastEventId=, frames `id: <N>` with the event's own JSON data,
 * poll answers {"events":[{"id","event","data"},...],"lastId":N}.
 */
class ChannelWire {
  #url;
  #positions = new Positions();

  constructor(url, lastEventId) {
    this.#url = url;
    if (lastEventId !== undefined && lastEventId !== null) this.#positions.set(ONLY, toId(String(lastEventId)));
  }

  /** sub.lastEventId: the id of the last event delivered (or the last id the server gave). */
  get position() {
    return this.#positions.get(ONLY);
  }

  newReply() {
    return this.#positions.newReply();
  }

  stream() {
    const last = this.position;
    return { url: withQuery(this.#url, { lastEventId: last }), resume: last === undefined ? undefined : String(last) };
  }

  pollUrl(base) {
    return withQuery(base, { lastEventId: this.position, wait: POLL_WAIT_S });
  }

  /** A stream event. Data that is not JSON is delivered as the raw string, and reported. */
  frame(reply, type, text, rawId) {
    if (!this.#positions.accept(reply, ONLY, type, idOf(rawId))) return null;
    const { value, error } = parseJSON(text);
    if (!error) return { args: [type, value, toId(rawId)] };
    return { args: [type, text, toId(rawId)], error: new RealtimeError(`realtime: data of event ${rawId} is not JSON`, { cause: error }) };
  }

  /** The stream's last event id as of a dispatch; it moves without an event on a data-less block. */
  id(reply, rawId) {
    this.#positions.accept(reply, ONLY, null, idOf(rawId));
  }

  pollEvent(reply, ev) {
    const rawId = ev.id === undefined || ev.id === null ? "" : String(ev.id);
    const type = ev.event ?? "message";
    if (!this.#positions.accept(reply, ONLY, type, idOf(rawId))) return null;
    return { args: [type, ev.data, toId(rawId)] };
  }

  /** A realtime.closed ends the only channel. */
  dropChannel() {
    return 0;
  }

  /** The answer's lastId: where the next poll resumes, even when it carried no event. */
  pollEnd(reply, body) {
    if (body.lastId !== undefined && body.lastId !== null) this.#positions.accept(reply, ONLY, null, idOf(String(body.lastId)));
  }
}

/**
 * MultiplexWire speaks the multiplexed protocol (SPEC 3.8): GET <url>?channel=a&channel=b with
 * the cursor as Last-Event-ID and ?cursor=; each frame's `id:` is the cursor (opaque: stored and
 * sent back, never read) and its data the envelope {"channel","id","data"}, except a reset's,
 * which is the reset itself {"channel","reason",...}; poll answers
 * {"events":[{"channel","id","event","data"},...],"cursor":C}. Duplicates are found per channel,
 * by the channel's own numeric id.
 */
class MultiplexWire {
  /** The last cursor seen: from any `id:` line, or a poll answer. */
  cursor;
  #url;
  #channels;
  #positions = new Positions();

  constructor({ channels, url }, cursor) {
    if (!Array.isArray(channels) || channels.length === 0 || !channels.every((c) => typeof c === "string" && c !== "")) {
      throw new TypeError("realtime: channels must be a non-empty array of channel names");
    }
    if (url === undefined || url === null) throw new TypeError("realtime: a multiplexed subscription needs the url of the server's /sse");
    this.#url = String(url);
    this.#channels = [...channels];
    if (cursor !== undefined && cursor !== null && cursor !== "") this.cursor = String(cursor);
  }

  /** sub.lastEventId of a multiplexed subscription is its cursor: what Last-Event-ID carries. */
  get position() {
    return this.cursor;
  }

  newReply() {
    return this.#positions.newReply();
  }

  stream() {
    return { url: withQuery(this.#url, { channel: this.#channels, cursor: this.cursor }), resume: this.cursor };
  }

  pollUrl(base) {
    return withQuery(base, { channel: this.#channels, cursor: this.cursor, wait: POLL_WAIT_S });
  }

  frame(reply, type, text, cursor) {
    this.id(reply, cursor);
    const { value, error } = parseJSON(text);
    if (error || typeof value?.channel !== "string") {
      return { error: new RealtimeError(`realtime: the data of a ${type} frame is not a {"channel",...} object`, { cause: error }) };
    }
    if (type === RESET_EVENT) return this.#event(reply, value.channel, type, value, value.id);
    return this.#event(reply, value.channel, type, value.data, value.id);
  }

  /** Every `id:` line is a cursor; an empty one (which no server sends) would lose the position, so it is ignored. */
  id(_reply, cursor) {
    if (cursor !== "") this.cursor = cursor;
  }

  pollEvent(reply, ev) {
    if (typeof ev.channel !== "string") return { error: new RealtimeError(`realtime: a polled ${ev.event} event names no channel`) };
    return this.#event(reply, ev.channel, ev.event ?? "message", ev.data, ev.id);
  }

  pollEnd(_reply, body) {
    if (typeof body.cursor === "string" && body.cursor !== "") this.cursor = body.cursor;
  }

  /**
   * A realtime.closed naming one of the channels drops it (later requests leave it out; the
   * cursor still covers it, which the server ignores); one naming none ends them all. Returns
   * how many channels are left.
   */
  dropChannel(channel) {
    if (typeof channel !== "string") return 0;
    this.#channels = this.#channels.filter((c) => c !== channel);
    return this.#channels.length;
  }

  #event(reply, channel, type, data, rawId) {
    const id = Number.isSafeInteger(rawId) ? rawId : undefined;
    if (!this.#positions.accept(reply, channel, type, id)) return null;
    return { args: [type, data, id, channel] };
  }
}

/**
 * Positions holds, per channel, the id of the last event delivered, and decides whether an event
 * of a reply is new to the client. accept() takes id undefined for an event without one.
 *
 * Ids only go up within one reply, so duplicates can only come from two replies overlapping: a
 * poll that delivered events after the stream request left with an older position, which the
 * stream then replays. Hence, per channel:
 *  - an event whose numeric id is at or below the channel's position is a duplicate and is
 *    dropped, except after this reply delivered a realtime.reset of the channel: the buffered
 *    events that follow a reset (id N) have ids at or below N, and are all new to the client;
 *  - a reset answers the position its request carried; if the channel's position has moved since
 *    (it differs from reply.known), another reply already resynchronised the channel and the
 *    reset is dropped.
 * type is null for an id without an event (an empty SSE block, a poll's lastId).
 */
class Positions {
  #ids = new Map(); // channel -> id of its last event delivered

  get(channel) {
    return this.#ids.get(channel);
  }

  set(channel, id) {
    this.#ids.set(channel, id);
  }

  newReply() {
    return { known: new Map(this.#ids), reset: new Set() };
  }

  accept(reply, channel, type, id) {
    const last = this.#ids.get(channel);
    if (type === RESET_EVENT) {
      if (last !== reply.known.get(channel)) return false;
      reply.reset.add(channel);
    } else if (!reply.reset.has(channel) && typeof id === "number" && typeof last === "number" && id <= last) {
      return false;
    }
    if (id !== undefined) this.#ids.set(channel, id);
    reply.known.set(channel, this.#ids.get(channel));
    return true;
  }
}

/**
 * Watchdog gives up a stream request that shows no byte for ms (SPEC 6, livenessMs): from the
 * request on, the response headers and every body chunk count; silence aborts the request
 * through its controller. touch() only records the time, so a busy stream costs no timer
 * churn: the one timer is re-armed when it fires, for what is left of the window.
 */
class Watchdog {
  /** Set when the watchdog aborted the request. */
  dead = false;
  #ms;
  #ctl;
  #timer;
  #lastByteAt = Date.now();

  constructor(ms, ctl) {
    this.#ms = ms;
    this.#ctl = ctl;
    this.#arm(ms);
  }

  touch() {
    this.#lastByteAt = Date.now();
  }

  /** Aborts the request if it has shown no byte for ms; reports whether it is dead. */
  check() {
    if (!this.dead && Date.now() - this.#lastByteAt >= this.#ms) {
      this.dead = true;
      this.stop();
      this.#ctl.abort();
    }
    return this.dead;
  }

  stop() {
    clearTimeout(this.#timer);
  }

  #arm(ms) {
    this.#timer = setTimeout(() => {
      if (!this.check()) this.#arm(this.#lastByteAt + this.#ms - Date.now());
    }, Math.min(ms, MAX_TIMER_MS));
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
      }, Math.min(ms, MAX_TIMER_MS));
      this.#timers.set(timer, resolve);
    });
  }

  /** Ends every pending sleep() now. */
  wake() {
    for (const [timer, resolve] of this.#timers) {
      clearTimeout(timer);
      resolve();
    }
    this.#timers.clear();
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
    this.wake();
    for (const ctl of this.#controllers) ctl.abort();
    this.#controllers.clear();
  }
}

// ---------------------------------------------------------------------------------------------
// 3. Helpers
// ---------------------------------------------------------------------------------------------

/**
 * backoffDelay returns the wait in ms before reconnect attempt n (1, 2, ...), per SPEC 6:
 * max(floorMs, b) + random(0, b/2) with b = min(maxMs, initialMs * 2^(n-1)). floorMs is what the
 * server asked for (its retry: hint, a Retry-After). The jitter is added on top of the floor,
 * not drawn under it, so clients dropped together spread out even when the server's hint is
 * larger than b: with the hint as a floor under the jitter, they would all wait exactly the hint.
 */
export function backoffDelay(attempt, { initialMs = DEFAULT_INITIAL_MS, maxMs = DEFAULT_MAX_MS } = {}, floorMs = 0, random = Math.random) {
  const b = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.max(floorMs, b) + random() * (b / 2);
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

function parseJSON(text) {
  try {
    return { value: JSON.parse(text) };
  } catch (error) {
    return { error };
  }
}

/** Ids that are decimal safe integers become numbers; any other id stays a string. */
function toId(raw) {
  if (/^[0-9]+$/.test(raw)) {
    const n = Number(raw);
    if (Number.isSafeInteger(n)) return n;
  }
  return raw;
}

/** The id of a raw id field for Positions: undefined when there is none. */
function idOf(raw) {
  return raw === "" ? undefined : toId(raw);
}

/**
 * withQuery sets query parameters on a URL (absolute or relative), replacing earlier values of
 * the same names and keeping every other parameter byte for byte. An array value sets the
 * parameter once per element. Undefined values are skipped: with no last id yet, a lastEventId
 * the caller put in the URL is sent as it is.
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
  for (const [name, value] of Object.entries(params)) {
    for (const v of [value].flat()) kept.push(`${encodeURIComponent(name)}=${encodeURIComponent(String(v))}`);
  }
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
