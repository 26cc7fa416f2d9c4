// Multiplexed subscriptions (SPEC 3.8, SPEC 6): subscribe({ channels, url }, ...) over one stream,
// resumed by an opaque cursor. The server-backed tests run against the mock, or the Go server
// with REALTIME_BIN (cursors a test makes up come from server.encodeCursor, in that server's
// format); the scripted-fetch ones pin down the exact frames.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { RealtimeError, subscribe } from "../realtime.js";
import { setup, isPoll, isStream } from "../testkit/harness.js";
import { json, never, scriptedFetch, sse } from "../testkit/scripted-fetch.js";
import { collector, delay, waitFor } from "../testkit/wait.js";

const CURSOR = /^[A-Za-z0-9._~-]+$/;

/** byChannel groups logged events per channel: { channel: [[id, data], ...] }. */
function byChannel(events) {
  const out = {};
  for (const e of events) (out[e.channel] ??= []).push([e.id, e.data]);
  return out;
}

/** publishAll publishes [channel, data] pairs in order, as event "e"; resolves with the log entries to expect. */
async function publishAll(server, pairs) {
  const out = [];
  for (const [channel, data] of pairs) out.push({ event: "e", data, id: await server.publish(channel, "e", data), channel });
  return out;
}

describe("multiplexed, against the mock server", () => {
  test("events interleaved on three channels arrive per channel, in order, once", async (t) => {
    const { server, open } = await setup(t);
    const channels = ["mx:a", "mx:b", "mx:c"];
    const { sub, log, requests } = open({ channels, url: "/sse" });
    await waitFor(() => log.opens === 1 && sub.cursor !== undefined, { what: "open and the opening cursor" });
    assert.deepEqual(log.events, [], "the opening frame is no event");

    const published = await publishAll(server, Array.from({ length: 12 }, (_, i) => [channels[(i * 7) % 3], { i }]));
    await waitFor(() => log.events.length === 12, { what: "12 events" });
    await delay(50);
    assert.deepEqual(log.events, published);
    for (const list of Object.values(byChannel(log.events))) {
      assert.ok(list.every(([id], i) => i === 0 || id > list[i - 1][0]), "ids go up within a channel");
    }
    assert.match(sub.cursor, CURSOR);
    assert.equal(sub.lastEventId, sub.cursor);
    const [first] = requests;
    assert.equal(first.url.pathname, "/sse");
    assert.deepEqual(first.url.searchParams.getAll("channel"), channels);
    assert.equal(first.url.searchParams.get("cursor"), null);
    assert.equal(first.headers.get("last-event-id"), null);
    assert.deepEqual(log.errors, []);
  });

  test("a dropped stream resumes every channel from the cursor: Last-Event-ID and ?cursor=", async (t) => {
    const { server, proxy, open } = await setup(t);
    const channels = ["mx:a", "mx:b", "mx:c"];
    const { sub, log, requests } = open({ channels, url: "/sse?x=1" });
    await waitFor(() => log.opens === 1, { what: "open" });
    const before = await publishAll(server, [["mx:a", 1], ["mx:b", 2]]);
    await waitFor(() => log.events.length === 2, { what: "2 events" });
    const cursor = sub.cursor;

    proxy.block("/sse", 404);
    proxy.dropStreams();
    const missed = await publishAll(server, [["mx:b", 3], ["mx:a", 4], ["mx:c", 5], ["mx:a", 6]]);
    await waitFor(() => requests.some((r) => r.status === 404), { what: "a refused reconnect" });
    proxy.unblock();
    await waitFor(() => log.events.length === 6, { what: "replay" });
    await delay(50);

    assert.deepEqual(log.events.slice(0, 2), before);
    assert.deepEqual(byChannel(log.events.slice(2)), byChannel(missed), "per channel: the missed events, in order, once");
    const resumed = requests.at(-1);
    assert.equal(resumed.status, 200);
    assert.equal(resumed.headers.get("last-event-id"), cursor);
    assert.deepEqual(resumed.url.searchParams.getAll("cursor"), [cursor]);
    assert.deepEqual(resumed.url.searchParams.getAll("channel"), channels);
    assert.equal(resumed.url.searchParams.get("x"), "1");
    assert.notEqual(sub.cursor, cursor);
  });

  test("a client that drops before any event resumes from the opening cursor", async (t) => {
    const { server, proxy, open } = await setup(t);
    const { sub, log, requests } = open({ channels: ["mx:o1", "mx:o2"], url: "/sse" });
    await waitFor(() => log.opens === 1 && sub.cursor !== undefined, { what: "the opening cursor" });
    const opening = sub.cursor;
    proxy.block("/sse", 404);
    proxy.dropStreams();
    const missed = await publishAll(server, [["mx:o1", 1], ["mx:o2", 2]]);
    await waitFor(() => requests.some((r) => r.status === 404), { what: "a refused reconnect" });
    proxy.unblock();
    await waitFor(() => log.events.length === 2, { what: "replay" });
    assert.deepEqual(byChannel(log.events), byChannel(missed));
    assert.equal(requests.at(-1).headers.get("last-event-id"), opening);
  });

  // A channel that cannot be resumed gets its own reset, then its buffer; the other resumes.
  const resets = {
    buffer_overrun: (a) => ({ from: a[0].id, data: { reason: "buffer_overrun", lastKnownId: a[0].id, oldestId: a[3].id } }),
    buffer_gap: (a) => ({ from: a[5].id + 1000, data: { reason: "buffer_gap", lastKnownId: a[5].id + 1000 } }),
  };
  for (const via of ["stream", "poll"]) {
    for (const [reason, expect] of Object.entries(resets)) {
      test(`${reason} of one channel on a ${via}: its reset, then its buffer; the other channel resumes`, async (t) => {
        const { server, proxy, open } = await setup(t, { replayBuffer: 3 });
        const [a, b] = [`mx:${reason}-${via}-a`, `mx:${reason}-${via}-b`];
        const [b0] = await publishAll(server, [[b, "b0"]]);
        const published = await publishAll(server, [1, 2, 3, 4, 5, 6].map((i) => [a, i]));
        const { from, data } = expect(published);
        const cursor = server.encodeCursor({ [a]: from, [b]: b0.id });
        if (via === "poll") proxy.block("/sse", 404);
        const polling = via === "poll" ? { fallbackPollingUrl: `${proxy.url}/poll`, pollingAfterMs: 50 } : {};
        const { sub, log, requests } = open({ channels: [a, b], url: "/sse" }, { cursor, ...polling });
        await waitFor(() => log.events.length === 4, { what: "reset and buffer" });

        // A stream's reset frame carries the cursor on its id: line: no per-channel id. A poll's
        // reset element has one: the channel's last id.
        const resetId = via === "poll" ? published[5].id : undefined;
        assert.deepEqual(log.events[0], { event: "realtime.reset", data: { channel: a, ...data }, id: resetId, channel: a });
        assert.deepEqual(log.events.slice(1), published.slice(3));
        const [live] = await publishAll(server, [[b, "live"]]);
        await waitFor(() => log.events.length === 5, { what: "a live event of the other channel" });
        assert.deepEqual(log.events[4], live);
        assert.match(sub.cursor, CURSOR);
        const first = requests.find(via === "poll" ? isPoll : isStream);
        assert.equal(first.url.searchParams.get("cursor"), cursor);
        if (via === "stream") assert.equal(first.headers.get("last-event-id"), cursor);
      });
    }
  }

  test("polls with the cursor while the stream is refused, then hands back to the stream", async (t) => {
    const { server, proxy, open } = await setup(t);
    const channels = ["mx:pa", "mx:pb", "mx:pc"];
    const { sub, log, requests } = open({ channels, url: "/sse" }, { fallbackPollingUrl: `${proxy.url}/poll?x=1`, pollingAfterMs: 100 });
    await waitFor(() => log.opens === 1, { what: "open" });
    const streamed = await publishAll(server, [["mx:pa", 1], ["mx:pb", 2]]);
    await waitFor(() => log.events.length === 2, { what: "streamed events" });
    const cursor = sub.cursor;

    proxy.block("/sse", 404);
    proxy.dropStreams();
    const firstPoll = await waitFor(() => requests.find(isPoll), { what: "first poll" });
    assert.equal(firstPoll.url.pathname, "/poll");
    assert.deepEqual(firstPoll.url.searchParams.getAll("channel"), channels);
    assert.equal(firstPoll.url.searchParams.get("cursor"), cursor);
    assert.equal(firstPoll.url.searchParams.get("wait"), "25");
    assert.equal(firstPoll.url.searchParams.get("x"), "1");
    assert.equal(firstPoll.headers.get("accept"), "application/json");

    const polled = await publishAll(server, [["mx:pc", 3], ["mx:pa", 4]]);
    await waitFor(() => log.events.length === 4, { what: "polled events" });
    assert.equal(log.opens, 1);
    assert.notEqual(sub.cursor, cursor, "a poll answer's cursor is the new cursor");
    const polledCursor = await waitFor(() => requests.filter(isPoll).at(-1).url.searchParams.get("cursor") === sub.cursor && sub.cursor, {
      what: "a poll from the latest cursor",
    });

    proxy.unblock();
    await waitFor(() => log.opens === 2, { what: "stream back" });
    const live = await publishAll(server, [["mx:pb", 5]]);
    await waitFor(() => log.events.length === 5, { what: "a streamed event" });
    await delay(100);

    assert.deepEqual(byChannel(log.events), byChannel([...streamed, ...polled, ...live]));
    const resumed = requests.filter(isStream).at(-1);
    assert.equal(resumed.headers.get("last-event-id"), polledCursor);
    assert.equal(resumed.url.searchParams.get("cursor"), polledCursor);
  });

  test("403 names the refused channel and stops for good", async (t) => {
    const { server, proxy, open } = await setup(t);
    const { log, requests } = open(
      { channels: ["mx:ok", "mx:no"], url: "/sse" },
      { token: () => server.token({ channels: ["mx:ok"] }), fallbackPollingUrl: `${proxy.url}/poll`, pollingAfterMs: 50 },
    );
    await waitFor(() => log.errors.length === 1, { what: "onError" });
    await delay(300);
    assert.equal(log.errors.length, 1);
    const [err] = log.errors;
    assert.ok(err instanceof RealtimeError);
    assert.equal(err.status, 403);
    assert.equal(err.channel, "mx:no");
    assert.match(err.message, /channel mx:no/);
    const refusedAt = Math.min(...requests.filter((r) => r.status === 403).map((r) => r.answeredAt));
    assert.ok(requests.every((r) => r.at <= refusedAt), "a request after the 403");
    assert.deepEqual(log.reconnects, []);
    assert.equal(log.opens, 0);
  });
});

/** start subscribes a multiplexed target with a scripted fetch and unsubscribes when the test ends. */
function start(t, target, answer, options = {}) {
  const { log, callbacks } = collector();
  const { fetch, requests } = scriptedFetch(answer);
  const sub = subscribe(target, { ...callbacks, backoff: { initialMs: 10, maxMs: 40 }, fetch, ...options });
  t.after(() => sub.unsubscribe());
  return { sub, log, requests };
}

const frame = (cursor, event, data) => `id: ${cursor}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

describe("multiplexed, exact frames", () => {
  test("the cursor follows every id: line, data-less blocks included; the URL gets the channel= parameters", async (t) => {
    const target = { channels: ["a", "b:1"], url: "http://x.test/sse?x=1&channel=old#f" };
    const { sub, log, requests } = start(t, target, (req) => {
      if (req.n === 0) return sse(req, ["retry: 10\nid: K0\n\n"]);
      if (req.n === 1) return sse(req, [frame("K1", "e", { channel: "a", id: 1, data: { v: 1 } }), "id: K2\n\n"]);
      return never();
    });
    await waitFor(() => requests.length === 3, { what: "two reconnects" });
    assert.equal(requests[0].url, "http://x.test/sse?x=1&channel=a&channel=b%3A1#f");
    assert.equal(requests[0].headers.get("last-event-id"), null);
    assert.equal(requests[1].url, "http://x.test/sse?x=1&channel=a&channel=b%3A1&cursor=K0#f");
    assert.equal(requests[1].headers.get("last-event-id"), "K0");
    assert.equal(requests[2].headers.get("last-event-id"), "K2");
    assert.deepEqual(log.events, [{ event: "e", data: { v: 1 }, id: 1, channel: "a" }]);
    assert.equal(sub.cursor, "K2");
    assert.equal(sub.lastEventId, "K2");
  });

  test("a cursor option resumes; a reset's own id is used when its data has one; a frame without a channel is reported", async (t) => {
    const frames = [
      "retry: 10\n\n",
      frame("K1", "realtime.reset", { channel: "a", id: 9, reason: "buffer_gap", lastKnownId: 50 }),
      frame("K2", "e", { channel: "a", id: 8, data: 8 }),
      frame("K3", "e", { id: 3, data: "no channel" }),
      "id: K4\nevent: e\ndata: not json\n\n",
      frame("K5", "realtime.reset", { channel: "b", reason: "buffer_overrun", lastKnownId: 1, oldestId: 4 }),
      frame("K6", "e", { channel: "b", id: 4, data: 4 }),
    ];
    const { sub, log, requests } = start(t, { channels: ["a", "b"], url: "http://x.test/sse" }, (req) => sse(req, req.n === 0 ? frames : [], { open: req.n > 0 }), {
      cursor: "K0",
    });
    await waitFor(() => log.events.length === 4 && log.errors.length === 2, { what: "4 events and 2 errors" });
    assert.equal(requests[0].headers.get("last-event-id"), "K0");
    assert.deepEqual(log.events, [
      { event: "realtime.reset", data: { channel: "a", id: 9, reason: "buffer_gap", lastKnownId: 50 }, id: 9, channel: "a" },
      { event: "e", data: 8, id: 8, channel: "a" },
      { event: "realtime.reset", data: { channel: "b", reason: "buffer_overrun", lastKnownId: 1, oldestId: 4 }, id: undefined, channel: "b" },
      { event: "e", data: 4, id: 4, channel: "b" },
    ]);
    assert.ok(log.errors.every((e) => e instanceof RealtimeError));
    assert.ok(log.errors[1].cause instanceof SyntaxError);
    await waitFor(() => requests.length === 2, { what: "reconnect" });
    assert.equal(requests[1].headers.get("last-event-id"), "K6");
    assert.equal(sub.cursor, "K6");
  });

  test("per channel, nothing twice at the poll-to-stream hand-over, resets included", async (t) => {
    let releaseStream;
    const streamAnswer = new Promise((resolve) => (releaseStream = resolve));
    const polled = [
      { channel: "a", id: 4, event: "e", data: 4 },
      { channel: "b", id: 9, event: "realtime.reset", data: { channel: "b", reason: "buffer_gap", lastKnownId: 50 } },
      { channel: "b", id: 8, event: "e", data: 8 },
      { channel: "b", id: 9, event: "e", data: 9 },
      { channel: "a", id: 5, event: "e", data: 5 },
    ];
    const replayed = [
      "retry: 10\n\n",
      frame("S1", "e", { channel: "a", id: 4, data: 4 }),
      frame("S2", "e", { channel: "a", id: 5, data: 5 }),
      frame("S3", "realtime.reset", { channel: "b", reason: "buffer_gap", lastKnownId: 50 }),
      frame("S4", "e", { channel: "b", id: 8, data: 8 }),
      frame("S5", "e", { channel: "b", id: 9, data: 9 }),
      frame("S6", "e", { channel: "a", id: 6, data: 6 }),
      frame("S7", "e", { channel: "b", id: 10, data: 10 }),
    ];
    const { sub, log, requests } = start(
      t,
      { channels: ["a", "b"], url: "http://x.test/sse" },
      (req) => {
        if (req.url.includes("/poll")) return req.url.includes("cursor=C0&") ? json({ events: polled, cursor: "C1" }) : never();
        if (req.n === 0) return json({ error: "down" }, { status: 502 });
        return streamAnswer.then(() => sse(req, replayed, { open: true }));
      },
      { cursor: "C0", fallbackPollingUrl: "http://x.test/poll?wait=1", pollingAfterMs: 50 },
    );
    await waitFor(() => log.events.length === 5, { what: "polled events" });
    assert.equal(sub.cursor, "C1");
    const stream = requests.filter((r) => r.url.includes("/sse")).at(-1);
    assert.equal(stream.headers.get("last-event-id"), "C0", "the stream request left before the poll answered");
    const [firstPoll] = requests.filter((r) => r.url.includes("/poll"));
    assert.equal(firstPoll.url, "http://x.test/poll?channel=a&channel=b&cursor=C0&wait=25");
    await waitFor(() => requests.some((r) => r.url.includes("/poll?channel=a&channel=b&cursor=C1&")), { what: "the next poll" });
    releaseStream();
    await waitFor(() => log.opens === 1 && log.events.length >= 7, { what: "stream" });
    await delay(20);
    const seen = log.events.map((e) => `${e.channel}:${e.event === "realtime.reset" ? "reset" : e.id}`);
    assert.deepEqual(seen, ["a:4", "b:reset", "b:8", "b:9", "a:5", "a:6", "b:10"]);
    assert.equal(sub.cursor, "S7");
    const pending = requests.filter((r) => r.url.includes("/poll")).at(-1);
    assert.ok(pending.signal.aborted, "the pending poll was aborted when the stream opened");
  });

  test("subscribe() checks a multiplexed target", () => {
    const onEvent = () => {};
    const fetch = never;
    assert.throws(() => subscribe({ channels: [], url: "/sse" }, { onEvent, fetch }), TypeError);
    assert.throws(() => subscribe({ channels: ["a", 1], url: "/sse" }, { onEvent, fetch }), TypeError);
    assert.throws(() => subscribe({ channels: "a", url: "/sse" }, { onEvent, fetch }), TypeError);
    assert.throws(() => subscribe({ channels: ["a"] }, { onEvent, fetch }), TypeError);
  });
});
