// setup() is what the server-backed tests share: a server (startServer by default: the mock, or
// the Go binary with REALTIME_BIN; pass start: startMock for what only the mock speaks), a fault
// proxy in front of it, and open(), which subscribes through the proxy with a recording fetch.
// Everything, subscriptions included, ends with the test.
import { subscribe } from "../realtime.js";
import { startFaultProxy } from "./fault-proxy.js";
import { startServer } from "./server.js";
import { collector, recordingFetch } from "./wait.js";

export const backoff = { initialMs: 20, maxMs: 200 };

/**
 * open(target, options): target is a path on the proxy ("/sse/ch") or a multiplexed target
 * { channels, url: "/sse" }, its url a path on the proxy too. Returns { sub, log, requests }.
 */
export async function setup(t, serverOptions = {}, { start = startServer } = {}) {
  const server = await start({ retryMs: 50, ...serverOptions });
  const proxy = await startFaultProxy(server.url);
  const subs = [];
  t.after(async () => {
    for (const sub of subs) sub.unsubscribe();
    await proxy.close();
    await server.close();
  });
  const open = (target, options = {}) => {
    const { log, callbacks } = collector();
    const rec = recordingFetch();
    const at = typeof target === "string" ? `${proxy.url}${target}` : { ...target, url: `${proxy.url}${target.url}` };
    const sub = subscribe(at, { ...callbacks, backoff, token: () => server.token(), fetch: rec.fetch, ...options });
    subs.push(sub);
    return { sub, log, requests: rec.requests };
  };
  return { server, proxy, open };
}

export const isStream = (r) => /^\/sse(\/|$)/.test(r.url.pathname);
export const isPoll = (r) => /^\/poll(\/|$)/.test(r.url.pathname);
