// The client in a real browser, against the real server: headless Chromium (Debian's, driven by
// playwright-core) opens the demo page the server serves at /demo, which imports /realtime.js
// from the same origin. The test publishes from Node, restarts the server on the same port, and
// checks what the page shows. Beside the demo's own subscription, a second one made with
// `import("/realtime.js")` in the page records the raw callbacks, so the client is checked
// independently of the demo's rendering.
//
//   REALTIME_BIN=/path/to/realtime node --test browser/      (from client/, after `npm ci`)
//
// Needs: REALTIME_BIN (a server binary), Chromium at /usr/bin/chromium (or CHROMIUM_BIN), and
// playwright-core from `npm ci`. Anything missing fails the test; nothing is skipped.
// Writes artifacts/demo.png: the demo page after the restart.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { access, mkdir } from "node:fs/promises";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { signJwt } from "../testkit/jwt.js";
import { startRealServer } from "../testkit/real-server.js";
import { delay } from "../testkit/wait.js";
import { launchChromium } from "./chromium.js";

const ARTIFACTS = fileURLToPath(new URL("../artifacts/", import.meta.url));
const SCREENSHOT = `${ARTIFACTS}demo.png`;
const WAIT_MS = 15_000; // for any one thing the page should show

test("realtime.js and the demo page in headless Chromium, across a server restart", { timeout: 120_000 }, async (t) => {
  // --- prerequisites: each missing one fails with the fix -------------------------------------
  const bin = process.env.REALTIME_BIN;
  assert.ok(bin, "REALTIME_BIN is not set: build the server (`go build -o /tmp/rtb/realtime .` in the repository) and run `REALTIME_BIN=/tmp/rtb/realtime node --test browser/` in client/");
  await access(bin, constants.X_OK).catch(() => assert.fail(`REALTIME_BIN=${bin} is not an executable file`));

  const secret = randomBytes(32).toString("hex");
  // --retry 300: the server's retry hint is a floor for reconnect delays; keep the restart quick.
  const server = await startRealServer({ bin, secret, retryMs: 300 });
  t.after(() => server.stop("SIGKILL"));
  const subscriberToken = signJwt({ sub: "browser-test", exp: Math.floor(Date.now() / 1000) + 600, channels: ["browser:*"] }, secret);

  const demo = await fetch(`${server.url}/demo`);
  const demoHtml = await demo.text();
  assert.equal(demo.status, 200, `GET /demo answered ${demo.status} ${demoHtml}: the server does not serve the demo page (route for client.DemoPage missing?)`);
  assert.match(demo.headers.get("content-type") ?? "", /^text\/html/);
  assert.match(demoHtml, /data-testid="timeline"/);

  const browser = await launchChromium();
  t.after(() => browser.close());
  t.diagnostic(`Chromium ${browser.version}, server ${server.url}`);

  browser.context.setDefaultTimeout(WAIT_MS);
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  const watch = watchPage(page);

  // --- the demo page connects through /realtime.js --------------------------------------------
  const channel = "browser:demo";
  await page.goto(`${server.url}/demo?channel=${encodeURIComponent(channel)}`);
  await page.waitForSelector("html[data-ready=true]", { timeout: WAIT_MS });
  assert.ok(watch.requests.some((r) => r.url === `${server.url}/realtime.js`), "the page did not load /realtime.js from the server");
  assert.equal(await page.getByTestId("channel").inputValue(), channel);
  await page.getByTestId("sub-token").fill(subscriberToken);
  await page.getByTestId("connection-options").click();
  await page.getByTestId("backoff-max").fill("1000");
  await page.getByTestId("connect").click();
  await waitState(page, "open");

  const firstStream = watch.requests.find((r) => r.path.startsWith("/sse/"));
  assert.equal(firstStream.path, `/sse/${channel}`);
  assert.equal(firstStream.headers.authorization, `Bearer ${subscriberToken}`, "the token option did not reach the request");
  assert.equal(firstStream.headers["last-event-id"], undefined);

  // The raw client: the module imported in the page, callbacks recorded as they come.
  await page.evaluate(
    async ({ channel, token }) => {
      const { subscribe } = await import("/realtime.js");
      window.__raw = [];
      window.__rawSub = subscribe(`/sse/${encodeURIComponent(channel)}`, {
        token: () => token,
        backoff: { initialMs: 100, maxMs: 1000 },
        onEvent: (event, data, id) => window.__raw.push({ event, data, id }),
        onOpen: () => window.__raw.push({ open: true }),
        onReconnect: (attempt) => window.__raw.push({ reconnect: attempt }),
        onError: (err) => window.__raw.push({ error: String(err?.message ?? err), status: err?.status }),
      });
    },
    { channel, token: subscriberToken },
  );
  await page.waitForFunction(() => window.__raw.some((r) => r.open), null, { timeout: WAIT_MS });

  // --- events published from Node arrive in order ---------------------------------------------
  const before = [];
  for (const [event, data] of [
    ["greeting", { hello: "world", n: 1 }],
    ["run.stage", { stage: "ai_verify", progress: 40, tags: ["a", "b"] }],
    ["run.note", "plain string, <b>not HTML</b>"],
  ]) {
    const res = await publish(server, channel, event, data);
    assert.equal(res.delivered, 2, "both page subscriptions should be registered once open");
    before.push({ event, data, id: res.id });
  }
  await waitRows(page, "event-row", before.length);

  // --- the demo's publish form ----------------------------------------------------------------
  await page.getByTestId("pub-event").fill("form.publish");
  await page.getByTestId("pub-data").fill('{"from": "the form", "ok": true, "nothing": null}');
  await page.getByTestId("pub-token").fill(server.publishKey);
  await page.getByTestId("publish").click();
  const result = page.getByTestId("publish-result");
  await page.waitForSelector('[data-testid=publish-result][data-status="200"]', { timeout: WAIT_MS });
  const formId = JSON.parse((await result.textContent()).split("\n")[1]).id;
  before.push({ event: "form.publish", data: { from: "the form", ok: true, nothing: null }, id: formId });
  await waitRows(page, "event-row", before.length);
  assert.deepEqual(await timeline(page), before.map(asRow), "demo timeline before the restart");
  // A string with markup is shown as text, never parsed as HTML.
  assert.equal(await page.locator('[data-testid=event-row] b').count(), 0);
  assert.deepEqual(
    before.map((e) => e.id),
    before.map((_, i) => before[0].id + i),
    "ids are consecutive within an incarnation (SPEC 3.2)",
  );

  // --- restart the server on the same port ----------------------------------------------------
  const requestsBefore = watch.requests.length;
  const oldPid = server.pid;
  await server.restart(); // SIGTERM, exit 0 required, then a new process on the same port
  assert.notEqual(server.pid, oldPid);

  // Both subscriptions reconnect with the last id and get realtime.reset (buffer_gap): the new
  // process's ids start above the old ones, so it cannot know what the client missed.
  await waitRows(page, "reset-row", 1);
  await waitState(page, "open");
  await page.waitForFunction(() => window.__raw.some((r) => r.event === "realtime.reset"), null, { timeout: WAIT_MS });
  const lastBefore = before.at(-1).id;
  const resumed = watch.requests.slice(requestsBefore).filter((r) => r.path.startsWith("/sse/"));
  assert.ok(resumed.length >= 2, "no reconnect request after the restart");
  for (const r of resumed) {
    assert.equal(r.headers["last-event-id"], String(lastBefore), `reconnect ${r.url} without Last-Event-ID`);
    assert.equal(new URL(r.url).searchParams.get("lastEventId"), String(lastBefore));
  }

  // Events published after the reconnect arrive once, in order, after the reset. (They are
  // published once the reset is seen, so the timeline below is exact; one published between the
  // restart and the reconnect would follow the reset too, replayed from the new incarnation's
  // buffer, SPEC 3.2 — lifecycle.test.js checks that.)
  const after = [];
  for (let i = 1; i <= 3; i++) {
    const data = { after: i };
    after.push({ event: "after.restart", data, id: (await publish(server, channel, "after.restart", data)).id });
  }
  await waitRows(page, "event-row", before.length + after.length);
  await delay(200); // anything duplicated would show up by now

  const [reset] = await resetRows(page);
  assert.equal(reset.reason, "buffer_gap");
  assert.deepEqual(reset.data, { reason: "buffer_gap", lastKnownId: lastBefore });
  assert.ok(reset.id > lastBefore, `the new incarnation's base ${reset.id} is not above the old ids (${lastBefore})`);
  assert.deepEqual(
    after.map((e) => e.id),
    after.map((_, i) => reset.id + 1 + i),
    "ids after the restart continue from the reset's id (the new base)",
  );
  const resetRow = { type: "reset", id: reset.id, event: "realtime.reset", data: reset.data };
  const want = [...before.map(asRow), resetRow, ...after.map(asRow)];
  assert.deepEqual(await timeline(page), want, "demo timeline: every event once, in order, the reset between");
  assert.match(reset.text, /restarted/, "the reset row explains buffer_gap");

  // The same through the raw callbacks of the client.
  const raw = await page.evaluate(() => window.__raw);
  const rawEvents = raw.filter((r) => "event" in r);
  assert.deepEqual(rawEvents, [...before, { event: "realtime.reset", data: reset.data, id: reset.id }, ...after]);
  assert.equal(raw.filter((r) => r.open).length, 2, "raw client: one open before and one after the restart");
  assert.equal(raw.find((r) => r.reconnect)?.reconnect, 1, "raw client: the first reconnect attempt is 1");
  assert.ok(raw.filter((r) => r.error).every((r) => r.status === undefined), `raw client: an HTTP refusal ${JSON.stringify(raw)}`);
  assert.equal(await page.evaluate(() => window.__rawSub.lastEventId), after.at(-1).id);

  // The demo shows the reconnect as it happened.
  assert.ok(Number(await page.getByTestId("reconnect-count").textContent()) >= 1);
  assert.equal(await page.getByTestId("reset-count").textContent(), "1");
  assert.equal(await page.getByTestId("event-count").textContent(), String(before.length + after.length));
  assert.equal(await page.getByTestId("last-event-id").textContent(), String(after.at(-1).id));
  const states = await page.$$eval("[data-testid=state-row]", (rows) => rows.map((r) => r.dataset.state).reverse());
  assert.deepEqual(states.slice(0, 2), ["connecting", "open"]);
  assert.ok(states.includes("reconnecting"), `no reconnect row in ${states}`);
  assert.equal(states.at(-1), "open");

  await mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  t.diagnostic(`screenshot: ${SCREENSHOT}`);

  // --- disconnect: nothing arrives afterwards -------------------------------------------------
  await page.evaluate(() => window.__rawSub.unsubscribe());
  await page.getByTestId("disconnect").click();
  await waitState(page, "disconnected");
  const rowsNow = await page.locator("[data-testid=event-row]").count();
  const missed = { event: "after.disconnect", data: 1 };
  const res = await publish(server, channel, missed.event, missed.data);
  assert.equal(res.delivered, 0, "a stream is still registered after unsubscribe()");
  missed.id = res.id;
  await delay(300);
  assert.equal(await page.locator("[data-testid=event-row]").count(), rowsNow);

  // --- connect again: the demo resumes after its last id and the server replays what was missed
  assert.equal(await page.getByTestId("resume-after").inputValue(), String(after.at(-1).id));
  await page.getByTestId("connect").click();
  await waitState(page, "open");
  await waitRows(page, "event-row", rowsNow + 1);
  await delay(200);
  assert.deepEqual((await timeline(page)).slice(-1), [asRow(missed)]);
  assert.equal(await page.getByTestId("reset-count").textContent(), "1", "a replay is not a reset");
  const replayed = watch.requests.filter((r) => r.path.startsWith("/sse/")).at(-1);
  assert.equal(replayed.headers["last-event-id"], String(after.at(-1).id));
  await page.getByTestId("disconnect").click();
  await waitState(page, "disconnected");

  // --- polling fallback: the stream is unreachable, the demo long-polls, then hands back --------
  const pollPage = await browser.context.newPage();
  const pollWatch = watchPage(pollPage);
  const pollChannel = "browser:poll";
  await pollPage.route("**/sse/**", (route) => route.abort("connectionrefused"));
  await pollPage.goto(`${server.url}/demo?channel=${encodeURIComponent(pollChannel)}`);
  await pollPage.waitForSelector("html[data-ready=true]", { timeout: WAIT_MS });
  await pollPage.getByTestId("sub-token").fill(subscriberToken);
  await pollPage.getByTestId("connection-options").click();
  await pollPage.getByTestId("polling-after").fill("300");
  await pollPage.getByTestId("backoff-max").fill("1000");
  await pollPage.getByTestId("connect").click();
  await waitState(pollPage, "polling");
  assert.ok(await pollPage.locator('[data-testid=state-row][data-state=polling]').count() === 1, "no 'polling fallback active' row");

  // A client that has no id yet only sees what is published after its poll reaches the server,
  // which the page cannot tell: publish probes until one arrives, then the events under test.
  let probes = 0;
  for (const deadline = Date.now() + WAIT_MS; ; probes++) {
    assert.ok(Date.now() < deadline, "no probe event arrived by polling");
    await publish(server, pollChannel, "probe", probes);
    if (await pollPage.locator("[data-testid=event-row]").count() > 0) break;
    await delay(100);
  }
  const polled = [];
  for (let i = 1; i <= 2; i++) polled.push({ event: "polled", data: { i }, id: (await publish(server, pollChannel, "polled", { i })).id });
  await pollPage.waitForFunction(
    (id) => [...document.querySelectorAll("[data-testid=event-row]")].some((r) => Number(r.dataset.id) === id),
    polled.at(-1).id,
    { timeout: WAIT_MS },
  );
  assert.equal(await pollPage.getByTestId("state").getAttribute("data-state"), "polling");
  const probeRows = (await timeline(pollPage)).filter((r) => r.event === "probe");
  assert.deepEqual((await timeline(pollPage)).slice(probeRows.length), polled.map(asRow));
  assert.ok(await pollPage.locator('[data-testid=event-row] .via:text-is("via poll")').count() >= 2);

  await pollPage.unroute("**/sse/**");
  await waitState(pollPage, "open");
  const streamed = { event: "streamed", data: { back: true }, id: (await publish(server, pollChannel, "streamed", { back: true })).id };
  await waitRows(pollPage, "event-row", probeRows.length + polled.length + 1);
  await delay(200);
  assert.deepEqual((await timeline(pollPage)).slice(probeRows.length), [...polled, streamed].map(asRow));
  // The stream resumed from an id the client had: the last polled one, or an older one when the
  // request left before the last poll answered (its replay of events already polled is dropped
  // by the client, as the timeline above shows).
  const reopened = pollWatch.requests.filter((r) => r.path.startsWith("/sse/")).at(-1);
  const resumedFrom = Number(reopened.headers["last-event-id"]);
  assert.ok(resumedFrom >= probeRows[0].id && resumedFrom <= polled.at(-1).id, `the stream resumed from ${resumedFrom}; polled ${polled.map((e) => e.id)}, probes ${probeRows.map((e) => e.id)}, ` +
      `stream requests' Last-Event-ID: ${pollWatch.requests.filter((r) => r.path.startsWith("/sse/")).map((r) => r.headers["last-event-id"] ?? "none")}`);
  await pollPage.getByTestId("disconnect").click();

  assert.deepEqual([...watch.pageErrors, ...pollWatch.pageErrors], [], "uncaught errors in the page");
});

// --- helpers ------------------------------------------------------------------------------------

/** watchPage records the page's requests (url, path, headers) and uncaught errors. */
function watchPage(page) {
  const requests = [];
  const pageErrors = [];
  page.on("request", (req) => {
    const url = new URL(req.url());
    requests.push({ url: req.url(), path: url.pathname, headers: req.headers() });
  });
  page.on("pageerror", (err) => pageErrors.push(String(err)));
  return { requests, pageErrors };
}

async function publish(server, channel, event, data) {
  const res = await fetch(`${server.url}/publish/${encodeURIComponent(channel)}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${server.publishKey}`, "Content-Type": "application/json" },
    body: JSON.stringify({ event, data }),
  });
  const body = await res.text();
  assert.equal(res.status, 200, `publish answered ${res.status} ${body}`);
  return JSON.parse(body);
}

async function waitState(page, state) {
  try {
    await page.waitForSelector(`[data-testid=state][data-state="${state}"]`, { timeout: WAIT_MS });
  } catch (err) {
    const now = await page.getByTestId("state").getAttribute("data-state");
    throw new Error(`the demo did not reach state "${state}" (it is "${now}"); timeline:\n${await timelineText(page)}`, { cause: err });
  }
}

async function waitRows(page, testid, n) {
  try {
    await page.waitForFunction(([testid, n]) => document.querySelectorAll(`[data-testid=${testid}]`).length >= n, [testid, n], { timeout: WAIT_MS });
  } catch (err) {
    throw new Error(`the demo did not show ${n} ${testid}s; timeline:\n${await timelineText(page)}`, { cause: err });
  }
}

/** timeline returns the event and reset rows of the demo, oldest first. */
function timeline(page) {
  return page.$$eval("[data-testid=event-row], [data-testid=reset-row]", (rows) =>
    rows
      .map((r) => ({
        type: r.dataset.testid === "reset-row" ? "reset" : "event",
        id: Number(r.dataset.id),
        event: r.dataset.testid === "reset-row" ? "realtime.reset" : r.dataset.event,
        data: JSON.parse(r.querySelector("[data-testid=event-data]").textContent),
      }))
      .reverse(),
  );
}

function resetRows(page) {
  return page.$$eval("[data-testid=reset-row]", (rows) =>
    rows
      .map((r) => ({
        id: Number(r.dataset.id),
        reason: r.dataset.reason,
        data: JSON.parse(r.querySelector("[data-testid=event-data]").textContent),
        text: r.querySelector("p").textContent,
      }))
      .reverse(),
  );
}

function timelineText(page) {
  return page.$$eval("#timeline > li", (rows) => rows.map((r) => `  ${r.dataset.testid}: ${r.textContent.replace(/\s+/g, " ").trim()}`).join("\n"));
}

const asRow = ({ event, data, id }) => ({ type: "event", id, event, data });
