// Unit tests of subscribe() over a scripted fetch: request shaping, delays, error handling and
// the de-duplication at the poll-to-stream hand-over, each set up exactly.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { backoffDelay, RealtimeError, subscribe } from "../realtime.js";
import { json, never, scriptedFetch, sse } from "../testkit/scripted-fetch.js";
import { collector, delay, waitFor } from "../testkit/wait.js";

const fast = { initialMs: 10, maxMs: 40 };

/** start subscribes with a scripted fetch and unsubscribes when the test ends. */
function start(t, url, answer, options = {}) {
  const { log, callbacks } = collector();
  const { fetch, requests } = scriptedFetch(answer);
  const sub = subscribe(url, { ...callbacks, backoff: fast, fetch, ...options });
  t.after(() => sub.unsubscribe());
  return { sub, log, requests };
}

describe("backoffDelay", () => {
  test("equal jitter under a doubling ceiling, capped at maxMs", () => {
    const b = { initialMs: 100, maxMs: 1000 };
    assert.equal(backoffDelay(1, b, 0, () => 0), 50);
    assert.equal(backoffDelay(1, b, 0, () => 1), 100);
    assert.equal(backoffDelay(2, b, 0, () => 1), 200);
    assert.equal(backoffDelay(4, b, 0, () => 0.5), 600);
    assert.equal(backoffDelay(5, b, 0, () => 1), 1000);
    assert.equal(backoffDelay(5000, b, 0, () => 0), 500);
  });

  test("never below the floor", () => {
    assert.equal(backoffDelay(1, { initialMs: 100, maxMs: 1000 }, 3000, () => 1), 3000);
  });

  test("defaults: 500ms initial, 10s max", () => {
    assert.equal(backoffDelay(1, undefined, 0, () => 1), 500);
    assert.equal(backoffDelay(10, {}, 0, () => 1), 10_000);
  });
});

describe("subscribe", () => {
  test("reconnect replaces lastEventId in the query, keeps the rest, and sends Last-Event-ID", async (t) => {
    const url = "http://x.test/sse/ch?lastEventId=3&a=%20b&lastEventId=4&c#frag";
    const { log, requests } = start(t, url, (req) => (req.n === 0 ? sse(req, ["id: 7\ndata: 1\n\n"]) : never()));
    await waitFor(() => requests.length === 2, { what: "reconnect" });
    assert.equal(requests[0].url, url, "no id yet: the URL goes out as given");
    assert.equal(requests[0].headers.get("last-event-id"), null);
    assert.equal(requests[1].url, "http://x.test/sse/ch?a=%20b&c&lastEventId=7#frag");
    assert.equal(requests[1].headers.get("last-event-id"), "7");
    assert.equal(requests[1].headers.get("accept"), "text/event-stream");
    assert.deepEqual(log.reconnects, [1]);
  });

  test("headers, credentials and token are sent on every request", async (t) => {
    let inits = [];
    const fetch = (url, init) => {
      inits.push(init);
      return Promise.resolve(sse(init, [], { open: false }));
    };
    let n = 0;
    const sub = subscribe("http://x.test/sse/ch", {
      onEvent() {},
      fetch,
      backoff: fast,
      headers: { "X-App": "1", Accept: "overridden" },
      credentials: "include",
      token: async () => `tok${++n}`,
    });
    t.after(() => sub.unsubscribe());
    await waitFor(() => inits.length >= 2, { what: "two requests" });
    sub.unsubscribe();
    inits = inits.slice(0, 2);
    assert.deepEqual(inits.map((i) => i.headers.get("authorization")), ["Bearer tok1", "Bearer tok2"]);
    assert.ok(inits.every((i) => i.headers.get("x-app") === "1" && i.headers.get("accept") === "text/event-stream"));
    assert.ok(inits.every((i) => i.credentials === "include" && i.method === "GET"));
  });

  test("ids: safe integers become numbers, anything else stays a string", async (t) => {
    const frames = ["id: 5\ndata: 1\n\n", "id: abc\ndata: 2\n\n", "id: 9007199254740993\ndata: 3\n\n", "id\ndata: 4\n\n"];
    const { log } = start(t, "http://x.test/sse/ch", (req) => (req.n === 0 ? sse(req, frames, { open: true }) : never()));
    await waitFor(() => log.events.length === 4, { what: "4 events" });
    assert.deepEqual(log.events.map((e) => e.id), [5, "abc", "9007199254740993", ""]);
  });

  test("an id without data moves lastEventId", async (t) => {
    const { sub, requests } = start(t, "http://x.test/sse/ch", (req) => (req.n === 0 ? sse(req, ["id: 12\n\n"]) : never()));
    await waitFor(() => requests.length === 2, { what: "reconnect" });
    assert.equal(sub.lastEventId, 12);
    assert.equal(requests[1].headers.get("last-event-id"), "12");
  });

  test("data that is not JSON is delivered raw, and reported", async (t) => {
    const { log } = start(t, "http://x.test/sse/ch", (req) => sse(req, ["id: 1\ndata: not json\n\nid: 2\ndata: [1]\n\n"], { open: true }));
    await waitFor(() => log.events.length === 2, { what: "events" });
    assert.deepEqual(log.events[0], { event: "message", data: "not json", id: 1 });
    assert.deepEqual(log.events[1].data, [1]);
    assert.equal(log.errors.length, 1);
    assert.ok(log.errors[0] instanceof RealtimeError);
    assert.ok(log.errors[0].cause instanceof SyntaxError);
  });

  test("a throwing onEvent is reported and does not break the stream", async (t) => {
    const seen = [];
    const { log } = start(t, "http://x.test/sse/ch", (req) => sse(req, ["id: 1\ndata: 1\n\nid: 2\ndata: 2\n\n"], { open: true }), {
      onEvent: (event, data) => {
        seen.push(data);
        if (data === 1) throw new Error("boom");
      },
    });
    await waitFor(() => seen.length === 2, { what: "both events" });
    assert.equal(log.errors[0].message, "boom");
    assert.deepEqual(log.reconnects, []);
  });

  test("a 2xx that is not an event stream is an error, retried with backoff", async (t) => {
    const { log, requests } = start(t, "http://x.test/sse/ch", (req) =>
      req.n === 0 ? json({ hello: 1 }) : sse(req, [], { open: true }),
    );
    await waitFor(() => log.opens === 1, { what: "open" });
    assert.equal(requests.length, 2);
    assert.equal(log.errors[0].status, 200);
    assert.deepEqual(log.reconnects, [1]);
  });

  test("503 with an HTTP-date Retry-After waits until that date", async (t) => {
    const retryAt = new Date(Date.now() + 2000);
    const answered = [];
    const { log, requests } = start(t, "http://x.test/sse/ch", (req) => {
      answered.push(performance.now());
      if (req.n > 0) return sse(req, [], { open: true });
      return json({ error: "busy" }, { status: 503, headers: { "Retry-After": retryAt.toUTCString() } });
    });
    await waitFor(() => log.opens === 1, { timeoutMs: 4000, what: "open" });
    const waited = requests[1].at - answered[0];
    assert.ok(waited >= 900, `waited ${waited}ms`); // the date was 2s ahead, less its dropped milliseconds
    assert.equal(log.errors[0].status, 503);
  });

  test("the retry: field is a floor for the reconnect delay, capped at maxMs", async (t) => {
    const { requests } = start(t, "http://x.test/sse/ch", (req) => (req.n === 0 ? sse(req, ["retry: 300\n\n"]) : never()), {
      backoff: { initialMs: 10, maxMs: 1000 },
    });
    await waitFor(() => requests.length === 2, { what: "reconnect" });
    assert.ok(requests[1].at - requests[0].at >= 295, `reconnected after ${requests[1].at - requests[0].at}ms`);

    const capped = start(t, "http://x.test/sse/ch", (req) => (req.n === 0 ? sse(req, ["retry: 60000\n\n"]) : never()));
    await waitFor(() => capped.requests.length === 2, { timeoutMs: 1000, what: "capped reconnect" });
  });

  test("attempts count up while connections fail, and restart after a good one", async (t) => {
    const { log } = start(t, "http://x.test/sse/ch", (req) => {
      if (req.n === 3) return sse(req, ["id: 1\ndata: 1\n\n"]); // a good connection: it delivered an event
      if (req.n === 5) return never();
      return sse(req, []); // opens, then ends at once: not a good connection
    });
    await waitFor(() => log.reconnects.length === 5, { what: "5 reconnects" });
    assert.deepEqual(log.reconnects, [1, 2, 3, 1, 2]);
  });

  test("a network error or a failing token() is reported and retried", async (t) => {
    let calls = 0;
    const { log, requests } = start(
      t,
      "http://x.test/sse/ch",
      (req) => (req.n === 0 ? Promise.reject(new TypeError("fetch failed")) : sse(req, [], { open: true })),
      {
        token: () => {
          if (++calls === 2) throw new Error("no token");
          return "t";
        },
      },
    );
    await waitFor(() => log.opens === 1, { what: "open" });
    assert.deepEqual(log.errors.map((e) => e.message), ["fetch failed", "no token"]);
    assert.equal(requests.length, 2);
    assert.deepEqual(log.reconnects, [1, 2]);
  });

  test("events a poll delivered are not delivered again by the stream that replaces it", async (t) => {
    let releaseStream;
    const streamAnswer = new Promise((resolve) => (releaseStream = resolve));
    const { log, requests } = start(
      t,
      "http://x.test/sse/ch",
      (req) => {
        if (req.url.includes("/poll/")) {
          if (req.url.includes("lastEventId=3&")) return json({ events: [{ id: 4, event: "e", data: 4 }, { id: 5, event: "e", data: 5 }], lastId: 5 });
          return never();
        }
        if (req.n === 0) return json({ error: "down" }, { status: 502 });
        return streamAnswer.then(() => sse(req, ["retry: 10\n\nid: 4\nevent: e\ndata: 4\n\nid: 5\nevent: e\ndata: 5\n\nid: 6\nevent: e\ndata: 6\n\n"], { open: true }));
      },
      { lastEventId: 3, fallbackPollingUrl: "http://x.test/poll/ch?wait=1", pollingAfterMs: 50 },
    );
    await waitFor(() => log.events.length === 2, { what: "polled events" });
    const stream = requests.filter((r) => r.url.includes("/sse/")).at(-1);
    assert.equal(stream.headers.get("last-event-id"), "3", "the stream request left before the poll answered");
    await waitFor(() => requests.some((r) => r.url.includes("/poll/ch?lastEventId=5&")), { what: "the next poll" });
    releaseStream();
    await waitFor(() => log.opens === 1 && log.events.length >= 3, { what: "stream" });
    await delay(20);
    assert.deepEqual(log.events.map((e) => e.id), [4, 5, 6]);
    const polls = requests.filter((r) => r.url.includes("/poll/"));
    assert.equal(polls[0].url, "http://x.test/poll/ch?lastEventId=3&wait=25");
    assert.ok(polls.at(-1).signal.aborted, "the pending poll was aborted when the stream opened");
  });

  test("unsubscribe() while token() is pending: no request follows", async (t) => {
    let resolveToken;
    const { sub, log, requests } = start(t, "http://x.test/sse/ch", (req) => sse(req, [], { open: true }), {
      token: () => new Promise((resolve) => (resolveToken = resolve)),
    });
    await waitFor(() => resolveToken, { what: "token()" });
    sub.unsubscribe();
    resolveToken("t");
    await delay(30);
    assert.equal(requests.length, 0);
    assert.equal(log.opens, 0);
  });

  test("without a fetch, subscribe throws", () => {
    const saved = globalThis.fetch;
    globalThis.fetch = undefined;
    try {
      assert.throws(() => subscribe("http://x.test/sse/ch", { onEvent() {} }), TypeError);
    } finally {
      globalThis.fetch = saved;
    }
  });
});
