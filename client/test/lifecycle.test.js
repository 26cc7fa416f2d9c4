// The client's lifecycle against a server: the mock by default, the Go binary with
// REALTIME_BIN set (see testkit/server.js). Faults (dropped and stalled streams, blocked paths)
// come from a proxy in front of the server, and requests are observed through a recording
// fetch, so these tests use nothing but the server's HTTP interface.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { RealtimeError } from "../realtime.js";
import { isPoll, isStream, setup } from "../testkit/harness.js";
import { delay, waitFor } from "../testkit/wait.js";

const ids = (log) => log.events.map((e) => e.id);

describe("lifecycle", () => {
  test("receives events: parsed data, event names, numeric ids", async (t) => {
    const { server, open } = await setup(t);
    const { sub, log, requests } = open("/sse/lc:events");
    await waitFor(() => log.opens === 1, { what: "open" });
    const a = await server.publish("lc:events", "run.stage", { stage: "ai_verify", progress: 40 });
    const b = await server.publish("lc:events", "run.done", null);
    await waitFor(() => log.events.length === 2, { what: "2 events" });

    assert.equal(typeof a, "number");
    assert.deepEqual(log.events, [
      { event: "run.stage", data: { stage: "ai_verify", progress: 40 }, id: a },
      { event: "run.done", data: null, id: b },
    ]);
    assert.equal(sub.lastEventId, b);
    const [first] = requests;
    assert.equal(first.headers.get("accept"), "text/event-stream");
    assert.match(first.headers.get("authorization"), /^Bearer .+\..+\..+$/);
    assert.equal(first.headers.get("last-event-id"), null);
    assert.equal(first.url.searchParams.get("lastEventId"), null);
    assert.deepEqual(log.errors, []);
  });

  for (const abrupt of [false, true]) {
    test(`reconnects after the stream ${abrupt ? "breaks" : "ends"}, resuming from the last id`, async (t) => {
      const { server, proxy, open } = await setup(t);
      const { sub, log, requests } = open("/sse/lc:replay?x=1");
      await waitFor(() => log.opens === 1, { what: "open" });
      const first = await server.publish("lc:replay", "e", 1);
      await waitFor(() => log.events.length === 1, { what: "first event" });

      proxy.block("/sse/", 404); // keep the client out while events it must replay are published
      proxy.dropStreams({ abrupt });
      const missed = [await server.publish("lc:replay", "e", 2), await server.publish("lc:replay", "e", 3)];
      await waitFor(() => requests.some((r) => r.status === 404), { what: "a refused reconnect" });
      proxy.unblock();
      await waitFor(() => log.events.length === 3, { what: "replay" });

      assert.deepEqual(ids(log), [first, ...missed]);
      assert.deepEqual(log.events.map((e) => e.data), [1, 2, 3]);
      assert.equal(sub.lastEventId, missed[1]);
      assert.equal(log.opens, 2);
      assert.ok(log.reconnects.length >= 2);
      assert.equal(log.reconnects[0], 1);
      const resumed = requests.at(-1);
      assert.equal(resumed.status, 200);
      assert.equal(resumed.headers.get("last-event-id"), String(first));
      assert.deepEqual(resumed.url.searchParams.getAll("lastEventId"), [String(first)]);
      assert.equal(resumed.url.searchParams.get("x"), "1");
    });
  }

  // SPEC 3.2: after a reset (id N) come all the buffered events, whose ids are at or below N;
  // the client delivers them, then live events, on a stream and on a poll alike.
  const resets = {
    buffer_overrun: (published) => ({
      lastEventId: published[0],
      data: { reason: "buffer_overrun", lastKnownId: published[0], oldestId: published[3] },
    }),
    buffer_gap: (published) => ({
      lastEventId: published[5] + 1000, // from the future
      data: { reason: "buffer_gap", lastKnownId: published[5] + 1000 },
    }),
  };
  for (const via of ["stream", "poll"]) {
    for (const [reason, expect] of Object.entries(resets)) {
      test(`${reason} on a ${via}: realtime.reset, then the whole buffer, then live events`, async (t) => {
        const { server, proxy, open } = await setup(t, { replayBuffer: 3 });
        const channel = `lc:${reason}-${via}`;
        const published = [];
        for (let i = 1; i <= 6; i++) published.push(await server.publish(channel, "e", i));
        const { lastEventId, data } = expect(published);
        if (via === "poll") proxy.block("/sse/", 404);
        const polling = via === "poll" ? { fallbackPollingUrl: `${proxy.url}/poll/${channel}`, pollingAfterMs: 50 } : {};
        const { sub, log, requests } = open(`/sse/${channel}`, { lastEventId, ...polling });
        await waitFor(() => log.events.length === 4, { what: "reset and 3 buffered events" });

        const [reset, ...buffered] = log.events;
        assert.deepEqual(reset, { event: "realtime.reset", data, id: published[5] });
        assert.deepEqual(buffered.map((e) => [e.id, e.data]), [[published[3], 4], [published[4], 5], [published[5], 6]]);
        assert.equal(sub.lastEventId, published[5]);
        const live = await server.publish(channel, "e", "live");
        await waitFor(() => log.events.length === 5, { what: "live event" });
        assert.deepEqual(log.events[4], { event: "e", data: "live", id: live });
        assert.equal(log.opens, via === "stream" ? 1 : 0);
        if (via === "poll") {
          const polledFrom = requests.filter(isPoll).map((r) => r.url.searchParams.get("lastEventId"));
          assert.equal(polledFrom[0], String(lastEventId));
          assert.ok(polledFrom.includes(String(published[5])), `polls resumed from ${polledFrom}`);
        }
      });
    }
  }

  for (const seeded of [true, false]) {
    test(`a client that drops before any event resumes from the opening id: (${seeded ? "last id" : "base"})`, async (t) => {
      const { server, proxy, open } = await setup(t);
      const channel = `lc:opening-${seeded}`;
      const seed = seeded ? await server.publish(channel, "e", "seed") : undefined;
      const { sub, log, requests } = open(`/sse/${channel}`);
      await waitFor(() => log.opens === 1 && sub.lastEventId !== undefined, { what: "open and the opening id" });
      const opening = sub.lastEventId;
      assert.equal(typeof opening, "number");
      if (seeded) assert.equal(opening, seed);
      assert.deepEqual(log.events, [], "the opening frame is no event");

      proxy.block("/sse/", 404);
      proxy.dropStreams();
      const missed = [await server.publish(channel, "e", 1), await server.publish(channel, "e", 2)];
      await waitFor(() => requests.some((r) => r.status === 404), { what: "a refused reconnect" });
      proxy.unblock();
      await waitFor(() => log.events.length === 2, { what: "replay" });

      assert.deepEqual(ids(log), missed);
      assert.ok(missed[0] > opening);
      const resumed = requests.filter((r) => r.status === 200).at(-1);
      assert.equal(resumed.headers.get("last-event-id"), String(opening));
      assert.equal(resumed.url.searchParams.get("lastEventId"), String(opening));
    });
  }

  test("401 calls token() again before the retry", async (t) => {
    const { server, open } = await setup(t);
    const issued = [];
    const token = () => {
      const tok = issued.length === 0 ? "not-a-jwt" : server.token();
      issued.push(tok);
      return tok;
    };
    const { log, requests } = open("/sse/lc:auth", { token });
    await waitFor(() => log.opens === 1, { what: "open" });

    assert.equal(requests[0].status, 401);
    assert.equal(log.errors[0].status, 401);
    assert.deepEqual(log.reconnects, [1]);
    assert.equal(issued.length, 2);
    assert.equal(requests[1].headers.get("authorization"), `Bearer ${issued[1]}`);
  });

  test("403 stops for good: onError, no further request, no polling", async (t) => {
    const { server, proxy, open } = await setup(t);
    const { log, requests } = open("/sse/lc:forbidden", {
      token: () => server.token({ channels: ["someone:else"] }),
      fallbackPollingUrl: `${proxy.url}/poll/lc:forbidden`,
      pollingAfterMs: 50,
    });
    await waitFor(() => log.errors.length === 1, { what: "onError" });
    await delay(400);
    assert.equal(log.errors.length, 1);
    assert.equal(log.errors[0].status, 403);
    // Polling may have started before the first 403 came back (and been aborted); nothing after it.
    const refusedAt = Math.min(...requests.filter((r) => r.status === 403).map((r) => r.answeredAt));
    assert.ok(requests.every((r) => r.at <= refusedAt), "a request after the 403");
    assert.equal(requests.filter(isStream).length, 1);
    assert.deepEqual(log.reconnects, []);
    assert.equal(log.opens, 0);
  });

  test("429 waits at least Retry-After before the next attempt", async (t) => {
    const { open } = await setup(t, { maxSubscribersPerChannel: 1 });
    const holder = open("/sse/lc:full");
    await waitFor(() => holder.log.opens === 1, { what: "first subscriber" });
    const late = open("/sse/lc:full");
    await waitFor(() => late.requests[0]?.status === 429, { what: "429" });
    holder.sub.unsubscribe();
    await waitFor(() => late.log.opens === 1, { timeoutMs: 35_000, what: "second subscriber" });

    const refused = late.requests[0];
    const retryAfterMs = Number(refused.responseHeaders.get("retry-after")) * 1000;
    assert.ok(retryAfterMs >= 1000, `Retry-After ${refused.responseHeaders.get("retry-after")}`);
    const waited = late.requests[1].at - refused.answeredAt;
    assert.ok(waited >= retryAfterMs - 25, `waited ${waited}ms, Retry-After ${retryAfterMs}ms`);
    assert.equal(late.log.errors[0].status, 429);
  });

  test("503 (authorizer unavailable) keeps retrying, each attempt at least Retry-After apart", async (t) => {
    const { proxy, open } = await setup(t);
    proxy.block("/sse/", 503, { "Retry-After": "1" });
    const { log, requests } = open("/sse/lc:unavailable");
    await waitFor(() => requests.filter((r) => r.status === 503).length === 2, { timeoutMs: 4000, what: "two 503s" });
    proxy.unblock();
    await waitFor(() => log.opens === 1, { timeoutMs: 4000, what: "open" });

    const [first, second] = requests;
    const waited = second.at - first.answeredAt;
    assert.ok(waited >= 975, `waited ${waited}ms after Retry-After: 1`);
    assert.ok(waited < 1400, `waited ${waited}ms: Retry-After, plus at most b/2 (10ms) of jitter, plus slack`);
    assert.ok(requests.at(-1).at - second.answeredAt >= 975);
    assert.ok(log.errors.length >= 2 && log.errors.every((e) => e.status === 503), `errors ${log.errors}`);
    assert.deepEqual(log.reconnects.slice(0, 2), [1, 2]);
  });

  test("a stream that goes silent is given up after livenessMs, then resumed", async (t) => {
    const { server, proxy, open } = await setup(t);
    const { log, requests } = open("/sse/lc:silent", { livenessMs: 400 });
    await waitFor(() => log.opens === 1, { what: "open" });
    const first = await server.publish("lc:silent", "e", 1);
    await waitFor(() => log.events.length === 1, { what: "first event" });
    const stalledAt = performance.now();
    proxy.stallStreams(); // the connection stays open; nothing more reaches the client
    const missed = await server.publish("lc:silent", "e", 2);
    await waitFor(() => log.events.length === 2, { what: "the missed event, after the reconnect" });

    assert.deepEqual(ids(log), [first, missed]);
    const resumed = requests[1];
    assert.ok(resumed.at - stalledAt >= 390, `reconnected ${resumed.at - stalledAt}ms after the stall`);
    assert.equal(resumed.headers.get("last-event-id"), String(first));
    assert.ok(log.errors[0] instanceof RealtimeError);
    assert.match(log.errors[0].message, /no byte for 400 ms/);
    assert.equal(log.reconnects[0], 1, "the silent stream had delivered an event: a good connection");
  });

  test("polls while the stream is unavailable, then hands back to the stream", async (t) => {
    const { server, proxy, open } = await setup(t);
    proxy.block("/sse/", 404);
    // Start from a known id: a request without one only sees events published after it arrives.
    const seed = await server.publish("lc:poll", "e", "seed");
    const started = performance.now();
    const { sub, log, requests } = open("/sse/lc:poll", {
      fallbackPollingUrl: `${proxy.url}/poll/lc:poll`,
      pollingAfterMs: 300,
      lastEventId: seed,
    });
    const firstPoll = await waitFor(() => requests.find(isPoll), { what: "first poll" });
    assert.ok(firstPoll.at - started >= 290, `polled after ${firstPoll.at - started}ms`);
    assert.equal(firstPoll.url.searchParams.get("wait"), "25");
    assert.equal(firstPoll.url.searchParams.get("lastEventId"), String(seed));
    assert.equal(firstPoll.headers.get("accept"), "application/json");
    assert.match(firstPoll.headers.get("authorization"), /^Bearer /);

    const polled = [await server.publish("lc:poll", "e", "p1"), await server.publish("lc:poll", "e", "p2")];
    await waitFor(() => log.events.length === 2, { what: "polled events" });
    assert.equal(log.opens, 0);
    assert.equal(sub.lastEventId, polled[1]);
    await waitFor(() => requests.filter(isPoll).length >= 2, { what: "polling to go on" });

    proxy.unblock();
    await waitFor(() => log.opens === 1, { what: "stream back" });
    const openedAt = performance.now();
    const streamed = await server.publish("lc:poll", "e", "s1");
    await waitFor(() => log.events.length === 3, { what: "streamed event" });
    await delay(300);

    assert.deepEqual(ids(log), [...polled, streamed]);
    const resumed = requests.filter(isStream).at(-1);
    assert.equal(resumed.headers.get("last-event-id"), String(polled[1]));
    assert.equal(requests.filter((r) => isPoll(r) && r.at > openedAt).length, 0, "no poll after the stream opened");
  });

  test("unsubscribe() ends every callback", async (t) => {
    const { server, proxy, open } = await setup(t);
    const { sub, log } = open("/sse/lc:unsub", { fallbackPollingUrl: `${proxy.url}/poll/lc:unsub`, pollingAfterMs: 50 });
    await waitFor(() => log.opens === 1, { what: "open" });
    await server.publish("lc:unsub", "e", 1);
    await waitFor(() => log.events.length === 1, { what: "event" });
    sub.unsubscribe();
    sub.unsubscribe(); // idempotent
    await server.publish("lc:unsub", "e", 2);
    proxy.dropStreams();
    await delay(300);
    assert.equal(log.events.length, 1);
    assert.equal(log.opens, 1);
    assert.deepEqual(log.reconnects, []);
    assert.deepEqual(log.errors, []);
  });

  test("unsubscribe() inside onEvent stops the rest of the chunk", async (t) => {
    const { server, open } = await setup(t);
    const seen = [];
    const handle = open("/sse/lc:unsub-inside", {
      onEvent: (event, data) => {
        seen.push(data);
        handle.sub.unsubscribe();
      },
    });
    await waitFor(() => handle.log.opens === 1, { what: "open" });
    await Promise.all([1, 2, 3].map((n) => server.publish("lc:unsub-inside", "e", n)));
    await waitFor(() => seen.length > 0, { what: "event" });
    await delay(100);
    assert.deepEqual(seen, [1]);
  });
});
