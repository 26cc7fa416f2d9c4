// realtime.closed (SPEC 3.9): the server ends a subscription for good (a revoked token, say),
// by a frame on a stream or an element of a poll answer. The client stops, polling included,
// reports an Error whose reason is the frame's, and never hands the frame to onEvent; on a
// multiplexed stream a frame naming one channel drops that channel only. The stream tests run
// against the Go server with REALTIME_BIN (POST /disconnect, DELETE /channels/{ch}); the Go
// server never closes a long-poll, so that one runs against the mock (startMock); the
// scripted-fetch ones pin down the exact frames.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { RealtimeError, subscribe } from "../realtime.js";
import { isStream, setup, setup as setupServer } from "../testkit/harness.js";
import { json, scriptedFetch, sse } from "../testkit/scripted-fetch.js";
import { startMock } from "../testkit/server.js";
import { collector, delay, waitFor } from "../testkit/wait.js";

const setupMock = (t, serverOptions) => setupServer(t, serverOptions, { start: startMock });

const isClosedError = (err) => err instanceof RealtimeError && /^realtime: the server closed the subscription/.test(err.message);

/** assertStopped checks the error of a client the server closed, and that the client went quiet. */
async function assertStopped(log, requests, reason) {
  await waitFor(() => log.errors.some(isClosedError), { what: "onError for realtime.closed" });
  const stoppedAt = performance.now();
  const count = requests.length;
  await delay(300); // longer than every backoff and pollingAfterMs of these tests
  const err = log.errors.at(-1);
  assert.ok(isClosedError(err), `errors after the realtime.closed one: ${log.errors}`);
  assert.equal(log.errors.filter(isClosedError).length, 1);
  assert.equal(err.reason, reason);
  assert.equal(err.status, undefined);
  assert.equal(requests.length, count, "a request after realtime.closed");
  assert.ok(requests.every((r) => r.at <= stoppedAt));
  assert.ok(log.events.every((e) => e.event !== "realtime.closed"), "realtime.closed reached onEvent");
}

describe("realtime.closed, against the server", () => {
  test("on a stream: stops for good, polling included", async (t) => {
    const { server, proxy, open } = await setup(t);
    const { log, requests } = open("/sse/cl:stream", { fallbackPollingUrl: `${proxy.url}/poll/cl:stream`, pollingAfterMs: 50 });
    await waitFor(() => log.opens === 1, { what: "open" });
    const id = await server.publish("cl:stream", "e", 1);
    await waitFor(() => log.events.length === 1, { what: "event" });
    await server.revoke("revoked");
    await assertStopped(log, requests, "revoked");
    assert.deepEqual(log.events, [{ event: "e", data: 1, id }]);
    assert.deepEqual(log.reconnects, []);
  });

  test("in a poll answer (the mock): stops for good, the stream loop included", async (t) => {
    const { server, proxy, open } = await setupMock(t);
    proxy.block("/sse/", 404);
    const { log, requests } = open("/sse/cl:poll", { fallbackPollingUrl: `${proxy.url}/poll/cl:poll`, pollingAfterMs: 50 });
    await waitFor(() => server.heldPolls() === 1, { what: "a held long-poll" });
    await server.revoke("revoked");
    await assertStopped(log, requests, "revoked");
    assert.ok(requests.filter(isStream).length >= 1);
    assert.deepEqual(log.events, []);
  });

  test("on a multiplexed stream", async (t) => {
    const { server, open } = await setup(t);
    const { log, requests } = open({ channels: ["cl:a", "cl:b"], url: "/sse" });
    await waitFor(() => log.opens === 1, { what: "open" });
    await server.revoke("revoked");
    await assertStopped(log, requests, "revoked");
    assert.deepEqual(log.reconnects, []);
  });

  test("one channel of a multiplexed stream deleted: it is dropped, the others go on", async (t) => {
    const { server, proxy, open } = await setup(t);
    const { sub, log, requests } = open({ channels: ["cl:gone", "cl:kept"], url: "/sse" });
    await waitFor(() => log.opens === 1, { what: "open" });
    assert.equal(await server.deleteChannel("cl:gone"), 1);
    await waitFor(() => log.errors.length === 1, { what: "onError for the deleted channel" });
    const [err] = log.errors;
    assert.ok(err instanceof RealtimeError);
    assert.equal(err.channel, "cl:gone");
    assert.equal(err.reason, "deleted");
    const id = await server.publish("cl:kept", "e", 1);
    await waitFor(() => log.events.length === 1, { what: "the other channel's event" });
    assert.deepEqual(log.events, [{ event: "e", data: 1, id, channel: "cl:kept" }]);
    proxy.dropStreams(); // the next stream asks for the channel left only
    await waitFor(() => log.opens === 2, { what: "reconnect" });
    const last = requests.filter(isStream).at(-1);
    assert.deepEqual(last.url.searchParams.getAll("channel"), ["cl:kept"]);
    assert.notEqual(sub.lastEventId, undefined);
  });
});

/** start subscribes with a scripted fetch and unsubscribes when the test ends. */
function start(t, target, answer, options = {}) {
  const { log, callbacks } = collector();
  const { fetch, requests } = scriptedFetch(answer);
  const sub = subscribe(target, { ...callbacks, backoff: { initialMs: 10, maxMs: 40 }, fetch, ...options });
  t.after(() => sub.unsubscribe());
  return { sub, log, requests };
}

describe("realtime.closed, exact frames", () => {
  test("on a stream: events before it are delivered, nothing after it", async (t) => {
    const chunk = 'id: 1\ndata: 1\n\nevent: realtime.closed\ndata: {"reason":"expired"}\n\nid: 2\ndata: 2\n\n';
    const { sub, log, requests } = start(t, "http://x.test/sse/ch", (req) => sse(req, [chunk], { open: true }));
    await assertStopped(log, requests, "expired");
    assert.deepEqual(log.events, [{ event: "message", data: 1, id: 1 }]);
    assert.equal(sub.lastEventId, 1);
    assert.ok(requests[0].signal.aborted, "the stream was not aborted");
    assert.deepEqual(log.errors.map((e) => e.message), ["realtime: the server closed the subscription: expired"]);
    assert.deepEqual(log.reconnects, []);
  });

  test("in a poll answer: the elements before it are delivered, nothing after it", async (t) => {
    const events = [
      { id: 1, event: "e", data: 1 },
      { event: "realtime.closed", data: { reason: "kicked" } },
      { id: 2, event: "e", data: 2 },
    ];
    const { sub, log, requests } = start(
      t,
      "http://x.test/sse/ch",
      (req) => (req.url.includes("/poll/") ? json({ events, lastId: 2 }) : json({ error: "down" }, { status: 502 })),
      { fallbackPollingUrl: "http://x.test/poll/ch", pollingAfterMs: 20 },
    );
    await assertStopped(log, requests, "kicked");
    assert.deepEqual(log.events, [{ event: "e", data: 1, id: 1 }]);
    assert.equal(sub.lastEventId, 1, "the answer's lastId is not taken: its events after realtime.closed were not delivered");
    assert.equal(requests.filter((r) => r.url.includes("/poll/")).length, 1);
  });

  test("a multiplexed poll answer, and a frame without a valid reason", async (t) => {
    const { log, requests } = start(
      t,
      { channels: ["a"], url: "http://x.test/sse" },
      (req) => (req.url.includes("/poll") ? json({ events: [{ event: "realtime.closed", data: null }], cursor: "C9" }) : json({}, { status: 502 })),
      { fallbackPollingUrl: "http://x.test/poll", pollingAfterMs: 20 },
    );
    await assertStopped(log, requests, undefined);
    assert.equal(log.errors.at(-1).message, "realtime: the server closed the subscription");

    const stream = start(t, "http://x.test/sse/ch", (req) => sse(req, ["event: realtime.closed\ndata: not json\n\n"], { open: true }));
    await assertStopped(stream.log, stream.requests, undefined);
  });
});
