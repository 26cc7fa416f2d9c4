// Type declarations for realtime.js, the client of the realtime SSE server.
// Self-contained: they do not require the DOM lib or @types/node.

/** An event id: a number when the id is a decimal safe integer (always, with the realtime server), else the raw string. */
export type EventId = number | string;

/** The subset of the Fetch API response the client reads. */
export interface FetchResponseLike {
  readonly ok: boolean;
  readonly status: number;
  readonly url: string;
  readonly headers: { get(name: string): string | null };
  readonly body: {
    getReader(): { read(): Promise<{ done: boolean; value?: Uint8Array }> };
    cancel(reason?: unknown): Promise<void>;
  } | null;
  json(): Promise<unknown>;
}

/** The request options the client passes to fetch. */
export interface FetchInitLike {
  method: "GET";
  /** A Headers instance. */
  headers: any;
  credentials: "omit" | "same-origin" | "include";
  /** An AbortSignal; aborted by unsubscribe(), when a stream replaces the poll loop, and when a stream is given up after livenessMs. */
  signal: any;
}

/** A fetch implementation: globalThis.fetch, or a wrapper around it. */
export type FetchLike = (url: string, init: FetchInitLike) => Promise<FetchResponseLike>;

export interface BackoffOptions {
  /** b for the first reconnect attempt, in ms. Default 500. */
  initialMs?: number;
  /** Largest b: b doubles per failed attempt up to this. Default 10000. */
  maxMs?: number;
}

/** The data of a `realtime.reset` event (SPEC 3.2); a multiplexed reset also names its channel. */
export interface ResetData {
  reason: "buffer_gap" | "buffer_overrun";
  /** The id the client resumed from. */
  lastKnownId: number;
  /** With buffer_overrun: the oldest id still buffered; the buffered events follow the reset. */
  oldestId?: number;
  /** Multiplexed subscriptions: the channel that could not be resumed. */
  channel?: string;
}

/** The options both forms of subscribe() take. */
export interface CommonOptions {
  /** Called after each successful connect: a 2xx answer with Content-Type text/event-stream. */
  onOpen?: () => void;
  /** Called when a reconnect is scheduled, before its delay; attempt counts from 1 and restarts after a good connection. */
  onReconnect?: (attempt: number) => void;
  /**
   * Called with every failure: a RealtimeError with `status` for an HTTP refusal (403 and 400
   * are the last call: the subscription has stopped; `channel` names the refused channel when the
   * server says), a RealtimeError with `reason` for realtime.closed (also the last call), a
   * RealtimeError for a stream given up after livenessMs, the fetch error for a network
   * failure, or the exception thrown by another callback. A stream the server ends cleanly is
   * not an error.
   */
  onError?: (err: unknown) => void;
  /**
   * Reconnect delays: attempt n waits max(hint, b) + random(0, b/2) with
   * b = min(maxMs, initialMs * 2^(n-1)), hint the larger of the server's last `retry:` and a
   * 429/503 Retry-After. The hint is not capped at maxMs.
   */
  backoff?: BackoffOptions;
  /**
   * Long-poll URL used while no stream can be held: single channel `/poll/<channel>` (GET
   * ?lastEventId=N&wait=25), multiplexed `/poll` (the client adds ?channel=...&cursor=C&wait=25).
   */
  fallbackPollingUrl?: string;
  /** Start polling after this long without an open stream, in ms. Default 45000. */
  pollingAfterMs?: number;
  /**
   * A stream request that shows no byte (response headers or body) for this long is aborted and
   * retried with the reconnect delay, in ms. Default 75000 (2.5 times the server's default
   * heartbeat); Infinity turns the watchdog off. In a browser, `online` and `visibilitychange`
   * to visible apply this rule at once.
   */
  livenessMs?: number;
  /** Called before each request (stream and poll); a non-empty result is sent as `Authorization: Bearer <token>`. */
  token?: () => string | null | undefined | Promise<string | null | undefined>;
  /** Extra request headers. */
  headers?: Record<string, string> | Iterable<readonly [string, string]>;
  /** Fetch credentials mode. Default "same-origin". */
  credentials?: "omit" | "same-origin" | "include";
  /** Fetch implementation. Default globalThis.fetch. */
  fetch?: FetchLike;
}

export interface SubscribeOptions extends CommonOptions {
  /**
   * Called for every event, in id order and never twice for the same id. `data` is the
   * JSON-parsed `data:` field; if it is not valid JSON, the raw string is passed and onError
   * then receives a RealtimeError. `event` is "message" when the frame names none.
   * `realtime.reset` frames arrive here too (`data` is a ResetData), followed by the buffered
   * events, whose ids are at or below the reset's. `realtime.closed` never does: it ends the
   * subscription through onError.
   */
  onEvent: (event: string, data: any, id: EventId) => void;
  /** Resume after this id (for example one persisted from an earlier page load). */
  lastEventId?: EventId;
}

export interface MultiplexOptions extends CommonOptions {
  /**
   * Called for every event of every channel, per channel in id order and never twice for the
   * same id. `data` is the event's data, unwrapped from the `{"channel","id","data"}` envelope;
   * `id` is the channel's own event id. A `realtime.reset` of one channel arrives with `data`
   * the reset itself (a ResetData with `channel`) and `id` its per-channel id when the server
   * gives one (a poll answer does; a stream frame's `id:` is the cursor, so there it is
   * undefined), followed by that channel's buffered events. A frame that is not a valid
   * envelope is reported to onError, not delivered. A `realtime.closed` naming one channel
   * (it was deleted, or this principal revoked from it) is reported to onError with `channel`
   * and `reason`; that channel is dropped and the others go on; the subscription stops when
   * its last channel is closed.
   */
  onEvent: (event: string, data: any, id: number | undefined, channel: string) => void;
  /** Resume from this cursor (for example `sub.cursor` persisted from an earlier page load). */
  cursor?: string;
}

/** The first argument of a multiplexed subscribe(): one stream for several channels (SPEC 3.8). */
export interface MultiplexTarget {
  /** The channels, at least one; sent as `channel=` query parameters. */
  channels: readonly string[];
  /** The server's multiplexed stream endpoint, for example "/sse". */
  url: string | { toString(): string };
}

export interface Subscription {
  /** Aborts the stream and every request, timer and listener; no callback is called after it returns. Idempotent. */
  unsubscribe(): void;
  /** The id of the last event delivered (or the last id the server gave, such as a stream's opening id), or undefined. */
  readonly lastEventId: EventId | undefined;
}

export interface MultiplexSubscription {
  /** Aborts the stream and every request, timer and listener; no callback is called after it returns. Idempotent. */
  unsubscribe(): void;
  /** The last cursor seen (any `id:` line, the opening frame included, or a poll answer's cursor); opaque. */
  readonly cursor: string | undefined;
  /** The same as `cursor`: what the client sends as Last-Event-ID. */
  readonly lastEventId: string | undefined;
}

// The multiplexed overload comes first: every object has a toString(), so a MultiplexTarget
// would otherwise match the single-channel overload.
/** Subscribes to several channels over one multiplexed stream (`{ channels, url: "/sse" }`); connecting happens in the background. */
export function subscribe(target: MultiplexTarget, options: MultiplexOptions): MultiplexSubscription;
/** Subscribes to an SSE url (`/sse/<channel>`); connecting happens in the background. */
export function subscribe(url: string | { toString(): string }, options: SubscribeOptions): Subscription;

/**
 * An HTTP refusal (`status` set; `channel` when a 403 names the refused channel), a
 * realtime.closed frame (`reason` set), a stream given up after livenessMs, or a protocol
 * problem (`cause` set).
 */
export class RealtimeError extends Error {
  constructor(message: string, options?: { status?: number; cause?: unknown; reason?: string; channel?: string });
  readonly status: number | undefined;
  /** The reason of a realtime.closed frame, for example "revoked". */
  readonly reason: string | undefined;
  /** The channel a 403 refused, or a realtime.closed ended, when the server names it (multiplexed subscriptions). */
  readonly channel: string | undefined;
}

/** One event dispatched by EventStreamParser. */
export interface ParsedEvent {
  /** The `event:` field, or "message". */
  type: string;
  /** The `data:` lines joined with "\n". */
  data: string;
  /** The last event ID string at dispatch ("" when no id was seen). */
  lastEventId: string;
}

export interface EventStreamHandlers {
  onEvent?: (event: ParsedEvent) => void;
  onRetry?: (ms: number) => void;
  onComment?: (text: string) => void;
}

/** WHATWG event-stream parser: push() body chunks split anywhere; handlers fire synchronously. */
export class EventStreamParser {
  constructor(handlers?: EventStreamHandlers);
  /** The last event ID string, updated at every dispatch (also of blocks without data). */
  readonly lastEventId: string;
  push(chunk: Uint8Array): void;
  /** Ends the stream; an unterminated last event is discarded. */
  end(): void;
}

/**
 * The reconnect delay before attempt n (1, 2, ...): max(floorMs, b) + random() * b/2 with
 * b = min(maxMs, initialMs * 2^(n-1)); floorMs is the server's retry: hint or Retry-After.
 */
export function backoffDelay(attempt: number, backoff?: BackoffOptions, floorMs?: number, random?: () => number): number;
