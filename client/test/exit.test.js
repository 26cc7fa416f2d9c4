// After unsubscribe() a Node process must be able to exit on its own: no timer, socket or
// request left behind. Each case runs the client in a child process, unsubscribes in a given
// state, and requires the child to exit within 2s, without a callback after unsubscribe().
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, test } from "node:test";
import { startFaultProxy } from "../testkit/fault-proxy.js";
import { startServer } from "../testkit/server.js";

const CLIENT = new URL("../realtime.js", import.meta.url).href;

// The child subscribes, waits until `until` holds, unsubscribes, prints "unsubscribed <wall
// clock ms>", and then must simply run out of work. A callback after that prints "late".
const CHILD = `
import { subscribe } from ${JSON.stringify(CLIENT)};
const cfg = JSON.parse(process.env.CFG);
let done = false, opens = 0, reconnects = 0, pollsInFlight = 0;
const fetch = async (url, init) => {
  const poll = String(url).includes("/poll/");
  if (poll) pollsInFlight++;
  try { return await globalThis.fetch(url, init); } finally { if (poll) pollsInFlight--; }
};
const late = () => { if (done) console.log("late"); };
const sub = subscribe(cfg.url, {
  fetch, token: () => cfg.token, backoff: { initialMs: 20, maxMs: 200 },
  fallbackPollingUrl: cfg.pollUrl, pollingAfterMs: cfg.pollingAfterMs,
  onEvent: late, onError: late,
  onOpen: () => { late(); opens++; }, onReconnect: () => { late(); reconnects++; },
});
const ready = { open: () => opens > 0, backoff: () => reconnects >= 1, poll: () => pollsInFlight > 0 }[cfg.until];
const timer = setInterval(() => {
  if (!ready()) return;
  clearInterval(timer);
  sub.unsubscribe();
  done = true;
  console.log("unsubscribed", Date.now());
}, 5);
`;

/**
 * runChild resolves with the child's output and how long it lived after unsubscribing (from the
 * wall-clock time it printed to its exit; "exit" can fire before its output arrives).
 */
function runChild(cfg) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", CHILD], {
      env: { ...process.env, CFG: JSON.stringify(cfg) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let exitedAt;
    child.stdout.on("data", (b) => (out += b));
    child.stderr.on("data", (b) => (out += b));
    const kill = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.on("error", reject);
    child.on("exit", () => (exitedAt = Date.now()));
    child.on("close", (code, signal) => {
      clearTimeout(kill);
      const unsubscribedAt = Number(/^unsubscribed (\d+)$/m.exec(out)?.[1] ?? NaN);
      resolve({ out, code, signal, lingeredMs: exitedAt - unsubscribedAt });
    });
  });
}

describe("unsubscribe() lets the process exit", () => {
  const cases = [
    { name: "with a stream open", until: "open" },
    { name: "while backing off after 503 Retry-After: 30", until: "backoff", block: [503, { "Retry-After": "30" }] },
    { name: "during a long-poll", until: "poll", block: [404, {}] },
  ];
  for (const c of cases) {
    test(c.name, async (t) => {
      const server = await startServer({ retryMs: 50 });
      const proxy = await startFaultProxy(server.url);
      t.after(async () => {
        await proxy.close();
        await server.close();
      });
      if (c.block) proxy.block("/sse/", ...c.block);
      const result = await runChild({
        url: `${proxy.url}/sse/exit:${c.until}`,
        pollUrl: `${proxy.url}/poll/exit:${c.until}`,
        pollingAfterMs: c.until === "poll" ? 100 : 60_000, // else: a countdown is pending too
        token: server.token(),
        until: c.until,
      });
      const seen = JSON.stringify(result);
      assert.equal(result.signal, null, `child killed: ${seen}`);
      assert.equal(result.code, 0, seen);
      assert.match(result.out, /^unsubscribed \d+\n$/, seen);
      assert.ok(result.lingeredMs < 2000, `exited ${result.lingeredMs}ms after unsubscribe(): ${seen}`);
    });
  }
});
