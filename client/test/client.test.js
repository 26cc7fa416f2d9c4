// Unit tests of subscribe() over a scripted fetch: request shaping, delays, error handling and
// the de-duplication at the poll-to-stream hand-over, each set up exactly.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { backoffDelay, RealtimeError, subscribe } from "../realtime.js";
import { json, liveSse, never, scriptedFetch, sse } from "../testkit/scripted-fetch.js";
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
  test("max(floor, b) plus up to b/2 of jitter, b doubling from initialMs up to maxMs", () => {
    const b = { initialMs: 100, maxMs: 1000 };
    assert.equal(backoffDelay(1, b, 0, () => 0), 100);
    assert.equal(backoffDelay(1, b, 0, () => 1), 150);
    assert.equal(backoffDelay(2, b, 0, () => 1), 300);
    assert.equal(backoffDelay(4, b, 0, () => 0.5), 1000);
    assert.equal(backoffDelay(5, b, 0, () => 1), 1500);
    assert.equal(backoffDelay(5000, b, 0, () => 0), 1000);
  });

  test("the floor (retry: hint, Retry-After) is not capped, and the jitter goes on top of it", () => {
    const b = { initialMs: 100, maxMs: 1000 };
    assert.equal(backoffDelay(1, b, 3000, () => 0), 3000);
    assert.equal(backoffDelay(1, b, 3000, () => 1), 3050);
    assert.equal(backoffDelay(5, b, 3000, () => 1), 3500);
    assert.equal(backoffDelay(5, b, 600, () => 0), 1000, "b wins over a smaller floor");
  });

  test("defaults: 500ms initial, 10s max", () => {
    assert.equal(backoffDelay(1, undefined, 0, () => 1), 750);
    assert.equal(backoffDelay(10, {}, 0, () => 1), 15_000);
  });

  test("clients dropped together spread out even when the hint dominates (hint 2000ms, initialMs 500)", () => {
    const delays = Array.from({ length: 200 }, () => backoffDelay(1, { initialMs: 500 }, 2000));
    assert.ok(delays.every((d) => d >= 2000 && d <= 2250), `out of [2000, 2250]: ${delays.filter((d) => d < 2000 || d > 2250)}`);
    assert.ok(new Set(delays).size > 150, "the delays are not spread");
    assert.ok(Math.max(...delays) - Math.min(...delays) > 125, "the delays span less than half the jitter range");
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

  test("unsubscribe() inside onEvent: lastEventId stays at the last event delivered", async (t) => {
    let sub;
    const chunk = "id: 1\ndata: 1\n\nid: 2\ndata: 2\n\nid: 3\n\n";
    ({ sub } = start(t, "http://x.test/sse/ch", (req) => sse(req, [chunk], { open: true }), { onEvent: () => sub.unsubscribe() }));
    await waitFor(() => sub.lastEventId !== undefined, { what: "the first event" });
    await delay(20);
    assert.equal(sub.lastEventId, 1);
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

  test("the retry: hint is a floor for the reconnect delay, not capped at maxMs", async (t) => {
    const { requests } = start(t, "http://x.test/sse/ch", (req) => (req.n === 0 ? sse(req, ["retry: 300\n\n"]) : never()), {
      backoff: { initialMs: 10, maxMs: 40 },
    });
    await waitFor(() => requests.length === 2, { what: "reconnect" });
    const waited = requests[1].at - requests[0].at;
    assert.ok(waited >= 295, `reconnected after ${waited}ms`);
    assert.ok(waited < 300 + 5 + 150, `reconnected after ${waited}ms: hint + at most b/2, and slack`);
  });

  test("subscriptions dropped together reconnect spread out, though the retry: hint dominates", async (t) => {
    const drops = Array.from({ length: 10 }, () =>
      start(t, "http://x.test/sse/ch", (req) => (req.n === 0 ? sse(req, ["retry: 400\n\n"]) : never()), {
        backoff: { initialMs: 200, maxMs: 200 },
      }),
    );
    await waitFor(() => drops.every(({ requests }) => requests.length === 2), { what: "10 reconnects" });
    const waits = drops.map(({ requests }) => requests[1].at - requests[0].at);
    assert.ok(waits.every((w) => w >= 395 && w < 400 + 100 + 100), `waits ${waits}: expected in [400, 500] plus slack`);
    assert.ok(Math.max(...waits) - Math.min(...waits) > 20, `waits ${waits} are not spread: the jitter was lost under the hint`);
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

  test("a stream that delivered an event and then broke counts as a good connection", async (t) => {
    const { log } = start(t, "http://x.test/sse/ch", (req) => {
      if (req.n === 0) return Promise.reject(new TypeError("fetch failed"));
      if (req.n === 1) return sse(req, ["id: 1\ndata: 1\n\n"], { broken: true });
      return never();
    });
    await waitFor(() => log.reconnects.length === 2, { what: "2 reconnects" });
    assert.deepEqual(log.reconnects, [1, 1]);
    assert.deepEqual(log.errors.map((e) => e.message), ["fetch failed", "terminated"]);
  });

  test("503 backs off for its Retry-After plus jitter, and retries until the server can answer", async (t) => {
    const { log, requests } = start(t, "http://x.test/sse/ch", (req) => {
      if (req.n === 0) return json({ error: "authorizer unavailable" }, { status: 503, headers: { "Retry-After": "1" } });
      if (req.n === 1) return json({ error: "authorizer unavailable" }, { status: 503 });
      return sse(req, [], { open: true });
    });
    await waitFor(() => log.opens === 1, { timeoutMs: 3000, what: "open" });
    const first = requests[1].at - requests[0].at;
    const second = requests[2].at - requests[1].at;
    assert.ok(first >= 995 && first < 1000 + 5 + 150, `waited ${first}ms after Retry-After: 1`);
    assert.ok(second < 150, `waited ${second}ms after a 503 without Retry-After`);
    assert.deepEqual(log.errors.map((e) => e.status), [503, 503]);
    assert.deepEqual(log.reconnects, [1, 2]);
  });

  test("a Retry-After beyond what setTimeout holds is waited, not overflowed into an instant retry", async (t) => {
    const { log, requests } = start(t, "http://x.test/sse/ch", () => json({}, { status: 503, headers: { "Retry-After": "3000000" } }));
    await waitFor(() => log.reconnects.length === 1, { what: "a reconnect scheduled" });
    await delay(100);
    assert.equal(requests.length, 1);
  });

  test("403 stops for good; the error carries the server's message", async (t) => {
    const { log, requests } = start(t, "http://x.test/sse/ch", () => json({ error: "token may not read ch" }, { status: 403 }), {
      fallbackPollingUrl: "http://x.test/poll/ch",
      pollingAfterMs: 20,
    });
    await waitFor(() => log.errors.length === 1, { what: "onError" });
    await delay(100);
    assert.equal(requests.length, 1);
    assert.equal(log.errors.length, 1);
    assert.ok(log.errors[0] instanceof RealtimeError);
    assert.equal(log.errors[0].status, 403);
    assert.equal(log.errors[0].channel, undefined);
    assert.match(log.errors[0].message, /answered status 403: token may not read ch$/);
    assert.deepEqual(log.reconnects, []);
  });

  test("400 stops for good too: the same request would be refused again", async (t) => {
    const { log, requests } = start(t, "http://x.test/sse/bad%20name", () => json({ error: "invalid channel name", channel: "bad name" }, { status: 400 }));
    await waitFor(() => log.errors.length === 1, { what: "onError" });
    await delay(100);
    assert.equal(requests.length, 1);
    assert.equal(log.errors[0].status, 400);
    assert.equal(log.errors[0].channel, "bad name");
    assert.deepEqual(log.reconnects, []);
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

  // SPEC 3.2: the buffered events after a reset (id 20) have ids at or below 20, and are new.
  const resetCases = {
    buffer_overrun: { lastEventId: 3, data: { reason: "buffer_overrun", lastKnownId: 3, oldestId: 18 } },
    buffer_gap: { lastEventId: 30, data: { reason: "buffer_gap", lastKnownId: 30 } },
  };
  for (const via of ["stream", "poll"]) {
    for (const [reason, { lastEventId, data }] of Object.entries(resetCases)) {
      test(`${reason} on a ${via}: the reset, then every buffered event though its id is not above the reset's`, async (t) => {
        const buffered = [18, 19, 20];
        const frames = [`retry: 10\n\nevent: realtime.reset\nid: 20\ndata: ${JSON.stringify(data)}\n\n`, ...buffered.map((id) => `id: ${id}\nevent: e\ndata: ${id}\n\n`)];
        const polled = { events: [{ id: 20, event: "realtime.reset", data }, ...buffered.map((id) => ({ id, event: "e", data: id }))], lastId: 20 };
        const { sub, log } = start(
          t,
          "http://x.test/sse/ch",
          (req) => {
            if (via === "stream") return req.n === 0 ? sse(req, frames, { open: true }) : never();
            if (!req.url.includes("/poll/")) return json({ error: "down" }, { status: 502 });
            return req.url.includes(`lastEventId=${lastEventId}&`) ? json(polled) : never();
          },
          { lastEventId, fallbackPollingUrl: "http://x.test/poll/ch", pollingAfterMs: via === "poll" ? 20 : 60_000 },
        );
        await waitFor(() => log.events.length === 4, { what: "reset and buffer" });
        assert.deepEqual(log.events, [{ event: "realtime.reset", data, id: 20 }, ...buffered.map((id) => ({ event: "e", data: id, id }))]);
        assert.equal(sub.lastEventId, 20);
      });
    }
  }

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

describe("liveness", () => {
  test("a stream that shows no byte for livenessMs is given up and reconnected, reported as such", async (t) => {
    const { sub, log, requests } = start(t, "http://x.test/sse/ch", (req) => (req.n === 0 ? sse(req, ["retry: 10\n\nid: 5\ndata: 1\n\n"], { open: true }) : never()), {
      livenessMs: 150,
    });
    await waitFor(() => requests.length === 2, { what: "reconnect" });
    const silent = requests[1].at - requests[0].at;
    assert.ok(silent >= 145, `given up after ${silent}ms`);
    assert.ok(requests[0].signal.aborted);
    assert.equal(log.errors.length, 1);
    assert.ok(log.errors[0] instanceof RealtimeError, `${log.errors[0]}`);
    assert.equal(log.errors[0].message, "realtime: the stream showed no byte for 150 ms; reconnecting");
    assert.deepEqual(log.reconnects, [1]);
    assert.equal(requests[1].headers.get("last-event-id"), "5");
    assert.equal(sub.lastEventId, 5);
  });

  test("any byte keeps the stream alive, heartbeat comments included", async (t) => {
    let live;
    const { log, requests } = start(
      t,
      "http://x.test/sse/ch",
      (req) => {
        if (req.n > 0) return never();
        live = liveSse(req);
        return live.response;
      },
      { livenessMs: 120 },
    );
    await waitFor(() => log.opens === 1, { what: "open" });
    const beat = setInterval(() => live.push(":\n"), 30);
    t.after(() => clearInterval(beat));
    await delay(500);
    assert.equal(requests.length, 1, "a stream with heartbeats was given up");
    clearInterval(beat);
    const quietAt = performance.now();
    await waitFor(() => requests.length === 2, { what: "reconnect once the heartbeats stop" });
    assert.ok(requests[1].at - quietAt >= 80, `given up ${requests[1].at - quietAt}ms after the last heartbeat`);
    assert.deepEqual(log.errors.map((e) => e.message), ["realtime: the stream showed no byte for 120 ms; reconnecting"]);
  });

  test("livenessMs: Infinity turns the watchdog off", async (t) => {
    const { log, requests } = start(t, "http://x.test/sse/ch", (req) => sse(req, ["retry: 10\n\n"], { open: true }), { livenessMs: Infinity });
    await waitFor(() => log.opens === 1, { what: "open" });
    await delay(100);
    assert.equal(requests.length, 1);
    assert.deepEqual(log.errors, []);
  });

  test("a request that gets no answer at all is given up too", async (t) => {
    const { log, requests } = start(t, "http://x.test/sse/ch", (req) => (req.n === 0 ? never() : sse(req, [], { open: true })), {
      livenessMs: 100,
    });
    await waitFor(() => log.opens === 1, { what: "open after the second request" });
    assert.ok(requests[1].at - requests[0].at >= 95);
    assert.ok(requests[0].signal.aborted);
    assert.match(log.errors[0].message, /no byte for 100 ms/);
  });
});

/**
 * browser installs a fake window and document (Node has neither) for one test: each records its
 * listeners, and fire(type) calls them as the browser would.
 */
function browser(t) {
  const target = (extra) => {
    const listeners = new Map();
    return Object.assign(extra, {
      listeners,
      addEventListener: (type, fn) => listeners.set(type, [...(listeners.get(type) ?? []), fn]),
      removeEventListener: (type, fn) => listeners.set(type, (listeners.get(type) ?? []).filter((f) => f !== fn)),
      fire: (type) => (listeners.get(type) ?? []).forEach((fn) => fn({ type })),
      count: (type) => (listeners.get(type) ?? []).length,
    });
  };
  globalThis.window = target({});
  globalThis.document = target({ visibilityState: "visible" });
  t.after(() => {
    delete globalThis.window;
    delete globalThis.document;
  });
  return { window: globalThis.window, document: globalThis.document };
}

describe("online and visibilitychange (browsers)", () => {
  test("online ends a pending backoff wait at once; unsubscribe() removes the listeners", async (t) => {
    const { window, document } = browser(t);
    const { sub, log, requests } = start(t, "http://x.test/sse/ch", (req) => (req.n === 0 ? sse(req, ["retry: 5000\n\n"]) : never()));
    assert.equal(window.count("online"), 1);
    assert.equal(document.count("visibilitychange"), 1);
    await waitFor(() => log.reconnects.length === 1, { what: "a reconnect scheduled 5s out" });
    await delay(50);
    assert.equal(requests.length, 1);
    const firedAt = performance.now();
    window.fire("online");
    await waitFor(() => requests.length === 2, { timeoutMs: 1000, what: "the reconnect, now" });
    assert.ok(requests[1].at - firedAt < 100, `reconnected ${requests[1].at - firedAt}ms after online`);

    sub.unsubscribe();
    assert.equal(window.count("online"), 0);
    assert.equal(document.count("visibilitychange"), 0);
  });

  test("visibilitychange ends the wait only when the page becomes visible", async (t) => {
    const { document } = browser(t);
    const { log, requests } = start(t, "http://x.test/sse/ch", (req) => (req.n === 0 ? sse(req, ["retry: 5000\n\n"]) : never()));
    await waitFor(() => log.reconnects.length === 1, { what: "a reconnect scheduled 5s out" });
    document.visibilityState = "hidden";
    document.fire("visibilitychange");
    await delay(100);
    assert.equal(requests.length, 1, "a hidden page does not reconnect early");
    document.visibilityState = "visible";
    document.fire("visibilitychange");
    await waitFor(() => requests.length === 2, { timeoutMs: 1000, what: "the reconnect, now" });
  });

  test("on an open stream, the check applies the liveness rule at once", async (t) => {
    const { window } = browser(t);
    const { log, requests } = start(t, "http://x.test/sse/ch", (req) => (req.n === 0 ? sse(req, ["retry: 10\n\n"], { open: true }) : never()), {
      livenessMs: 100,
    });
    await waitFor(() => log.opens === 1, { what: "open" });
    window.fire("online");
    assert.equal(requests[0].signal.aborted, false, "a stream that showed a byte just now is alive");
    // Block the event loop past livenessMs, as a throttled page or a sleeping machine does: the
    // watchdog's timer cannot run, so only the check can give the stream up.
    const until = Date.now() + 150;
    while (Date.now() < until);
    assert.equal(requests[0].signal.aborted, false);
    window.fire("online");
    assert.equal(requests[0].signal.aborted, true, "the check did not give the silent stream up");
    await waitFor(() => requests.length === 2, { what: "reconnect" });
    assert.match(log.errors[0].message, /no byte for 100 ms/);
    assert.deepEqual(log.reconnects, [1]);
  });
});
