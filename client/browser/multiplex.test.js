// Multiplexed subscriptions in a real browser, against the real server, over HTTP/1.1, where
// Chromium holds at most six connections per origin and queues any further request until one
// frees: twelve single-channel streams cannot all be open on one page, four multiplexed streams
// of three channels each can, and leave room for a long-poll and a publish.
//
// The first test checks exactly that on one page (the server's /demo, for its origin and its
// /realtime.js): that a seventh single-channel stream waits, then that four multiplexed
// subscriptions receive interleaved events published on their twelve channels, and that every one
// resumes across a server restart on the same port with its cursor, gets a buffer_gap reset per
// channel and then everything published after. Every request the page makes to the origin is
// counted from the moment Chromium reports it (before it waits for a connection) to its end, so a
// request that would need a seventh connection shows as a seventh request in flight. The second
// test drives the demo page with a list of channels.
//
//   REALTIME_BIN=/path/to/realtime node --test browser/      (from client/, after `npm ci`)
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { access } from "node:fs/promises";
import { test } from "node:test";
import { signJwt } from "../testkit/jwt.js";
import { startRealServer } from "../testkit/real-server.js";
import { delay } from "../testkit/wait.js";
import { launchChromium } from "./chromium.js";

const WAIT_MS = 15_000; // for any one thing the page should show
const MAX_CONNECTIONS = 6; // Chromium's limit per origin over HTTP/1.1
const GROUPS = [0, 1, 2, 3].map((g) => [0, 1, 2].map((c) => `mx:g${g}c${c}`)); // the channels of each subscription
const CHANNELS = GROUPS.flat();

test("four multiplexed subscriptions on one page, within six HTTP/1.1 connections, across a server restart", { timeout: 60_000 }, async (t) => {
  const { server, page, watch, token } = await openPage(t);

  // --- the premise: a seventh stream of the page waits for a connection -----------------------
  await page.evaluate(async ({ n, token }) => {
    const { subscribe } = await import("/realtime.js");
    window.__single = { opens: 0, subs: [] };
    for (let i = 0; i < n; i++) {
      window.__single.subs.push(subscribe(`/sse/mx:single${i}`, { token: () => token, onOpen: () => window.__single.opens++ }));
    }
  }, { n: MAX_CONNECTIONS + 1, token });
  await page.waitForFunction((n) => window.__single.opens === n, MAX_CONNECTIONS, { timeout: WAIT_MS });
  await delay(300); // on loopback, the seventh would have opened by now had it a connection
  assert.equal(await page.evaluate(() => window.__single.opens), MAX_CONNECTIONS, "Chromium should hold six streams to the origin and queue the seventh");
  assert.equal(watch.inFlight.size, MAX_CONNECTIONS + 1, "the counter should see the queued request in flight");
  await page.evaluate(() => window.__single.subs.forEach((s) => s.unsubscribe()));
  await waitFor(() => watch.inFlight.size === 0, "the single-channel streams to end");
  watch.resetPeak();

  // --- four multiplexed subscriptions, three channels each --------------------------------------
  await page.evaluate(
    async ({ groups, token }) => {
      const { subscribe } = await import("/realtime.js");
      window.__mx = groups.map((channels) => {
        const log = { events: [], opens: 0, errors: [] };
        log.sub = subscribe({ channels, url: "/sse" }, {
          token: () => token,
          fallbackPollingUrl: "/poll",
          backoff: { initialMs: 100, maxMs: 1000 },
          // id null: the event has none (a stream's reset); undefined would not survive evaluate().
          onEvent: (event, data, id, channel) => log.events.push({ event, data, id: id ?? null, channel }),
          onOpen: () => log.opens++,
          onError: (err) => log.errors.push({ message: String(err?.message ?? err), status: err?.status }),
        });
        return log;
      });
    },
    { groups: GROUPS, token },
  );
  await page.waitForFunction(() => window.__mx.every((l) => l.opens === 1 && l.sub.cursor !== undefined), null, { timeout: WAIT_MS });
  const opening = (await state(page)).map((s) => s.cursor);
  assert.deepEqual(streamsInFlight(watch), GROUPS, "one stream per subscription, naming its channels");

  // Interleaved: each round publishes once on every channel, so consecutive events of one
  // subscription are on different channels.
  const before = await publishRounds(server, 3, "before");
  await waitEvents(page, before);

  // --- the fifth and sixth connection: a long-poll and a publish from the page -------------------
  // The poll resumes from subscription 0's cursor and waits; the publish wakes it. Both are in
  // flight at once, beside the four streams. (Had the publish landed before the poll, the poll
  // would answer the same: it resumes from the cursor.)
  const side = await page.evaluate(
    async ({ channels, token, publishKey }) => {
      const query = channels.map((c) => `channel=${encodeURIComponent(c)}`).join("&");
      const cursor = window.__mx[0].sub.cursor;
      const poll = fetch(`/poll?${query}&cursor=${encodeURIComponent(cursor)}&wait=10`, { headers: { Authorization: `Bearer ${token}` } });
      await new Promise((resolve) => setTimeout(resolve, 100)); // let the poll park: a long-poll woken by an event
      const published = await fetch(`/publish/${encodeURIComponent(channels[0])}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${publishKey}`, "Content-Type": "application/json" },
        body: JSON.stringify({ event: "from.page", data: { channel: channels[0], page: true } }),
      });
      const polled = await poll;
      return { cursor, publish: [published.status, await published.json()], poll: [polled.status, await polled.json()] };
    },
    { channels: GROUPS[0], token, publishKey: server.publishKey },
  );
  assert.equal(side.publish[0], 200, `the page's publish answered ${JSON.stringify(side.publish)}`);
  const fromPage = { event: "from.page", data: { channel: GROUPS[0][0], page: true }, id: side.publish[1].id, channel: GROUPS[0][0] };
  assert.equal(side.poll[0], 200, `the page's long-poll answered ${JSON.stringify(side.poll)}`);
  assert.deepEqual(side.poll[1].events, [fromPage], "the long-poll returns the event published from the page");
  assert.equal(typeof side.poll[1].cursor, "string");
  assert.notEqual(side.poll[1].cursor, side.cursor, "the poll's cursor moved past the event");
  assert.equal(watch.peak, MAX_CONNECTIONS, `four streams, a poll and a publish: six requests at the peak, ${JSON.stringify(watch.atPeak)}`);
  before.push(fromPage);
  await waitEvents(page, before);
  await delay(200); // anything duplicated would show up by now
  const beforeState = await state(page);
  beforeState.forEach((s, g) => {
    assertPerChannel(s.events, GROUPS[g], before, `subscription ${g} before the restart`);
    assert.notEqual(s.cursor, opening[g], `subscription ${g}: the cursor did not move`);
  });

  // --- restart the server on the same port ---------------------------------------------------
  const requestsBefore = watch.requests.length;
  const oldPid = server.pid;
  await server.restart(); // SIGTERM, exit 0 required, then a new process on the same port
  assert.notEqual(server.pid, oldPid);

  // Each subscription reconnects with its cursor and gets a reset (buffer_gap) for each of its
  // channels: the new process cannot know what the positions of the old one mean.
  const resets = CHANNELS.map((channel) => resetOf(channel, before));
  await waitEvents(page, [...before, ...resets]);
  await page.waitForFunction(() => window.__mx.every((l) => l.opens === 2), null, { timeout: WAIT_MS });
  beforeState.forEach((s, g) => {
    const resumed = watch.requests.slice(requestsBefore).filter((r) => r.url.pathname === "/sse" && sameChannels(r.url, GROUPS[g]));
    assert.ok(resumed.length >= 1, `subscription ${g}: no reconnect request after the restart`);
    for (const r of resumed) {
      assert.equal(r.headers["last-event-id"], s.cursor, `subscription ${g}: reconnect ${r.url} without its cursor as Last-Event-ID`);
      assert.equal(r.url.searchParams.get("cursor"), s.cursor, `subscription ${g}: reconnect ${r.url} without ?cursor=`);
    }
  });

  const after = await publishRounds(server, 2, "after");
  await waitEvents(page, [...before, ...resets, ...after]);
  await delay(200); // again, for duplicates

  const afterState = await state(page);
  afterState.forEach((s, g) => {
    const since = s.events.slice(beforeState[g].events.length);
    const want = [...resets, ...after];
    assertPerChannel(since, GROUPS[g], want, `subscription ${g} after the restart`);
    for (const channel of GROUPS[g]) {
      const lastBefore = before.filter((e) => e.channel === channel).at(-1).id;
      const firstAfter = after.find((e) => e.channel === channel).id;
      assert.ok(firstAfter > lastBefore, `${channel}: the new incarnation's ids (${firstAfter}) are not above the old ones (${lastBefore})`);
    }
    assert.deepEqual(s.errors.filter((e) => e.status !== undefined), [], `subscription ${g}: an HTTP refusal`);
  });

  assert.deepEqual(streamsInFlight(watch), GROUPS, "after the restart, again one stream per subscription");
  assert.ok(watch.peak <= MAX_CONNECTIONS, `the page had ${watch.peak} requests to the origin in flight at once: ${JSON.stringify(watch.atPeak)}`);
  assert.deepEqual(watch.pageErrors, [], "uncaught errors in the page");
  t.diagnostic(`peak requests to the origin in flight: ${watch.peak}; ${before.length + after.length} events published, ${resets.length} resets`);
});

test("the demo page follows several channels on one stream", { timeout: 60_000 }, async (t) => {
  const { server, page, watch, token } = await openPage(t);
  const channels = ["mx:demo1", "mx:demo2", "mx:demo3"];
  await page.goto(`${server.url}/demo?channel=${channels.join(",")}`);
  await page.waitForSelector("html[data-ready=true]", { timeout: WAIT_MS });
  await page.getByTestId("sub-token").fill(token);
  await page.getByTestId("connect").click();
  await waitState(page, "open");

  const stream = watch.requests.find((r) => r.url.pathname.startsWith("/sse"));
  assert.equal(stream.url.pathname, "/sse", "several channels should share one multiplexed stream");
  assert.deepEqual(stream.url.searchParams.getAll("channel"), channels);
  assert.equal(await page.getByTestId("position-label").textContent(), "cursor");

  const published = [];
  for (const channel of [channels[1], channels[0], channels[2], channels[1]]) {
    const data = { on: channel, n: published.length };
    published.push({ channel, id: await server.publish(channel, "demo.mx", data), event: "demo.mx", data });
  }
  // The publish form names its own channel; empty, it would use the first subscribed.
  await page.getByTestId("pub-channel").fill(channels[2]);
  await page.getByTestId("pub-event").fill("form.mx");
  await page.getByTestId("pub-data").fill('{"from": "the form"}');
  await page.getByTestId("pub-token").fill(server.publishKey);
  await page.getByTestId("publish").click();
  await page.waitForSelector('[data-testid=publish-result][data-status="200"]', { timeout: WAIT_MS });
  const formId = JSON.parse((await page.getByTestId("publish-result").textContent()).split("\n")[1]).id;
  published.push({ channel: channels[2], id: formId, event: "form.mx", data: { from: "the form" } });
  await waitRows(page, "event-row", published.length);
  await delay(200);
  assert.deepEqual(await eventRows(page), published, "every event once, in order, with its channel");

  // Disconnect keeps the cursor; Connect resumes from it and the missed event is replayed.
  await page.getByTestId("disconnect").click();
  await waitState(page, "disconnected");
  const cursor = await page.getByTestId("resume-after").inputValue();
  assert.ok(cursor !== "" && !/^[0-9]+$/.test(cursor), `Disconnect should keep the stream's cursor, not ${JSON.stringify(cursor)}`);
  const missed = { channel: channels[0], event: "missed", data: { while: "away" } };
  missed.id = await server.publish(missed.channel, missed.event, missed.data);
  await page.getByTestId("connect").click();
  await waitState(page, "open");
  await waitRows(page, "event-row", published.length + 1);
  await delay(200);
  assert.deepEqual((await eventRows(page)).slice(published.length), [missed], "the missed event, replayed once");
  const resumed = watch.requests.filter((r) => r.url.pathname === "/sse").at(-1);
  assert.equal(resumed.headers["last-event-id"], cursor);

  // A restart: one reset row per channel, each naming its channel.
  await server.restart();
  await waitRows(page, "reset-row", channels.length);
  await waitState(page, "open");
  const resets = await page.$$eval("[data-testid=reset-row]", (rows) =>
    rows.map((r) => ({ reason: r.dataset.reason, channel: r.dataset.channel, shown: r.querySelector("[data-testid=event-channel]")?.textContent })),
  );
  assert.deepEqual(
    resets.map((r) => r.channel).sort(),
    [...channels].sort(),
    "one reset per channel",
  );
  for (const r of resets) {
    assert.equal(r.reason, "buffer_gap");
    assert.equal(r.shown, r.channel, "the reset row shows its channel");
  }
  assert.deepEqual(watch.pageErrors, [], "uncaught errors in the page");
});

// --- helpers ------------------------------------------------------------------------------------

/**
 * openPage starts the server and Chromium, and opens the server's /demo page with its requests
 * watched. Each missing prerequisite fails with its fix.
 */
async function openPage(t) {
  const bin = process.env.REALTIME_BIN;
  assert.ok(bin, "REALTIME_BIN is not set: build the server (`go build -o /tmp/rtb/realtime .` in the repository) and run `REALTIME_BIN=/tmp/rtb/realtime node --test browser/` in client/");
  await access(bin, constants.X_OK).catch(() => assert.fail(`REALTIME_BIN=${bin} is not an executable file`));
  const secret = randomBytes(32).toString("hex");
  // --retry 300: the server's retry hint is a floor for reconnect delays; keep the restart quick.
  const server = await startRealServer({ bin, secret, retryMs: 300 });
  t.after(() => server.stop("SIGKILL"));
  const token = signJwt({ sub: "browser-mx", exp: Math.floor(Date.now() / 1000) + 600, channels: ["mx:*"] }, secret);

  const browser = await launchChromium();
  t.after(() => browser.close());
  t.diagnostic(`Chromium ${browser.version}, server ${server.url}`);
  browser.context.setDefaultTimeout(WAIT_MS);
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  const watch = watchOrigin(page, server.url);
  await page.goto(`${server.url}/demo`);
  await page.waitForSelector("html[data-ready=true]", { timeout: WAIT_MS });
  // The limit under test is HTTP/1.1's; over HTTP/2 every request would share one connection.
  const protocol = await page.evaluate(() => performance.getEntriesByName(new URL("/realtime.js", location.href).href)[0]?.nextHopProtocol);
  assert.equal(protocol, "http/1.1");
  return { server, page, watch, token };
}

/**
 * watchOrigin records the page's requests to origin (url, headers) and which are in flight: from
 * Chromium's report of the request, which comes before it waits for a connection, to its end,
 * finished or failed. The peak is thus what the page asked for at once, which may exceed what
 * Chromium grants (six): a count of sockets could never show more than six.
 */
function watchOrigin(page, origin) {
  const watch = {
    requests: [],
    inFlight: new Set(),
    peak: 0,
    atPeak: [], // the requests in flight at the peak, for the failure message
    pageErrors: [],
    resetPeak() {
      watch.peak = watch.inFlight.size;
      watch.atPeak = [];
    },
  };
  page.on("request", (req) => {
    if (!req.url().startsWith(`${origin}/`)) return;
    watch.requests.push({ url: new URL(req.url()), headers: req.headers(), req });
    watch.inFlight.add(req);
    if (watch.inFlight.size > watch.peak) {
      watch.peak = watch.inFlight.size;
      watch.atPeak = [...watch.inFlight].map((r) => `${r.method()} ${r.url()}`);
    }
  });
  const ended = (req) => watch.inFlight.delete(req);
  page.on("requestfinished", ended);
  page.on("requestfailed", ended);
  page.on("pageerror", (err) => watch.pageErrors.push(String(err)));
  return watch;
}

/** The channels of each /sse request in flight, sorted like GROUPS. */
function streamsInFlight(watch) {
  return watch.requests
    .filter((r) => watch.inFlight.has(r.req) && r.url.pathname === "/sse")
    .map((r) => r.url.searchParams.getAll("channel"))
    .sort((a, b) => a[0].localeCompare(b[0]));
}

const sameChannels = (url, channels) => url.searchParams.getAll("channel").join(",") === channels.join(",");

/** publishRounds publishes, rounds times, one event on each of the twelve channels; resolves with them in order. */
async function publishRounds(server, rounds, event) {
  const out = [];
  for (let round = 0; round < rounds; round++) {
    for (const channel of CHANNELS) {
      const data = { channel, round };
      out.push({ event, data, id: await server.publish(channel, event, data), channel });
    }
  }
  return out;
}

/** The events, cursor and errors of each multiplexed subscription of the page. */
function state(page) {
  return page.evaluate(() => window.__mx.map((l) => ({ events: l.events, cursor: l.sub.cursor, errors: l.errors })));
}

/** waitEvents waits until each subscription has as many events as expected holds on its channels. */
async function waitEvents(page, expected) {
  const want = GROUPS.map((channels) => expected.filter((e) => channels.includes(e.channel)).length);
  try {
    await page.waitForFunction((want) => window.__mx.every((l, g) => l.events.length >= want[g]), want, { timeout: WAIT_MS });
  } catch (err) {
    const counts = (await state(page)).map((s) => s.events.length);
    throw new Error(`the subscriptions did not get ${want} events (they have ${counts})`, { cause: err });
  }
}

/**
 * assertPerChannel checks that got holds, for each of channels, exactly the events of want on that
 * channel, in their order, and nothing of any other channel. Per channel: the order across
 * channels is the server's to choose.
 */
function assertPerChannel(got, channels, want, what) {
  for (const channel of channels) {
    const wanted = want.filter((e) => e.channel === channel);
    assert.deepEqual(got.filter((e) => e.channel === channel), wanted, `${what}: ${channel}`);
    const ids = wanted.filter((e) => e.id !== null).map((e) => e.id);
    assert.ok(ids.every((id, i) => i === 0 || id > ids[i - 1]), `${what}: ${channel}'s ids do not go up: ${ids}`);
  }
  assert.equal(got.length, want.filter((e) => channels.includes(e.channel)).length, `${what}: events of other channels, or missing ones`);
}

/** The reset a stream delivers for channel after a restart: no id of its own (the id: line is the cursor). */
function resetOf(channel, before) {
  const lastKnownId = before.filter((e) => e.channel === channel).at(-1).id;
  return { event: "realtime.reset", data: { channel, reason: "buffer_gap", lastKnownId }, id: null, channel };
}

async function waitFor(predicate, what) {
  for (const deadline = Date.now() + WAIT_MS; !predicate(); await delay(10)) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
  }
}

async function waitState(page, state) {
  try {
    await page.waitForSelector(`[data-testid=state][data-state="${state}"]`, { timeout: WAIT_MS });
  } catch (err) {
    const rows = await page.$$eval("#timeline > li", (lis) => lis.map((li) => `  ${li.dataset.testid}: ${li.textContent.replace(/\s+/g, " ").trim()}`));
    throw new Error(`the demo did not reach state "${state}"; timeline:\n${rows.join("\n")}`, { cause: err });
  }
}

async function waitRows(page, testid, n) {
  await page.waitForFunction(([testid, n]) => document.querySelectorAll(`[data-testid=${testid}]`).length >= n, [testid, n], { timeout: WAIT_MS });
}

/** The demo's event rows, oldest first, as { channel, id, event, data }. */
function eventRows(page) {
  return page.$$eval("[data-testid=event-row]", (rows) =>
    rows
      .map((r) => ({
        channel: r.querySelector("[data-testid=event-channel]")?.textContent,
        id: Number(r.dataset.id),
        event: r.dataset.event,
        data: JSON.parse(r.querySelector("[data-testid=event-data]").textContent),
      }))
      .reverse(),
  );
}
