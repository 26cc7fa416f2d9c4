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
  /** An AbortSignal; aborted by unsubscribe() and when a stream replaces the poll loop. */
  signal: any;
}

/** A fetch implementation: globalThis.fetch, or a wrapper around it. */
export type FetchLike = (url: string, init: FetchInitLike) => Promise<FetchResponseLike>;

export interface BackoffOptions {
  /** Ceiling of the first reconnect delay, in ms. Default 500. */
  initialMs?: number;
  /** Largest ceiling; the ceiling doubles per failed attempt up to this. Default 10000. */
  maxMs?: number;
}

export interface SubscribeOptions {
  /**
   * Called for every event, in id order and never twice for the same id. `data` is the
   * JSON-parsed `data:` field; if it is not valid JSON, the raw string is passed and onError
   * then receives a RealtimeError. `event` is "message" when the frame names none.
   * `realtime.reset` frames arrive here too: `data` is
   * `{ reason: "buffer_gap" | "buffer_overrun", lastKnownId: number, oldestId?: number }`.
   */
  onEvent: (event: string, data: any, id: EventId) => void;
  /** Called after each successful connect: a 2xx answer with Content-Type text/event-stream. */
  onOpen?: () => void;
  /** Called when a reconnect is scheduled, before its delay; attempt counts from 1 and restarts after a good connection. */
  onReconnect?: (attempt: number) => void;
  /**
   * Called with every failure: a RealtimeError with `status` for an HTTP refusal (403 is the
   * last call: the subscription has stopped), the fetch error for a network failure, or the
   * exception thrown by another callback. A stream the server ends cleanly is not an error.
   */
  onError?: (err: unknown) => void;
  /** Reconnect delays: exponential with equal jitter, never below Retry-After or the server's retry: hint. */
  backoff?: BackoffOptions;
  /** Long-poll URL (GET ?lastEventId=N&wait=25) used while no stream can be held. */
  fallbackPollingUrl?: string;
  /** Start polling after this long without an open stream, in ms. Default 45000. */
  pollingAfterMs?: number;
  /** Called before each request (stream and poll); a non-empty result is sent as `Authorization: Bearer <token>`. */
  token?: () => string | null | undefined | Promise<string | null | undefined>;
  /** Extra request headers. */
  headers?: Record<string, string> | Iterable<readonly [string, string]>;
  /** Fetch credentials mode. Default "same-origin". */
  credentials?: "omit" | "same-origin" | "include";
  /** Fetch implementation. Default globalThis.fetch. */
  fetch?: FetchLike;
  /** Resume after this id (for example one persisted from an earlier page load). */
  lastEventId?: EventId;
}

export interface Subscription {
  /** Aborts the stream and every request and timer; no callback is called after it returns. Idempotent. */
  unsubscribe(): void;
  /** The id of the last event delivered, or undefined before the first. */
  readonly lastEventId: EventId | undefined;
}

/** Subscribes to an SSE url (`/sse/<channel>`); connecting happens in the background. */
export function subscribe(url: string | { toString(): string }, options: SubscribeOptions): Subscription;

/** An HTTP refusal (`status` set) or a protocol problem (`cause` set). */
export class RealtimeError extends Error {
  constructor(message: string, options?: { status?: number; cause?: unknown });
  readonly status: number | undefined;
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
 * The reconnect delay before attempt n (1, 2, ...): uniform in [c/2, c] with
 * c = min(maxMs, initialMs * 2^(n-1)), and at least floorMs.
 */
export function backoffDelay(attempt: number, backoff?: BackoffOptions, floorMs?: number, random?: () => number): number;
