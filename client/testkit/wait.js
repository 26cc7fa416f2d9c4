// Small async helpers for the tests.

export const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** waitFor polls predicate until it returns a truthy value, which it resolves with. */
export async function waitFor(predicate, { timeoutMs = 5000, what = "condition" } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await delay(5);
  }
}

/** recordingFetch wraps fetch and records every request: url, headers, timing and answer. */
export function recordingFetch(inner = globalThis.fetch) {
  const requests = [];
  const fetch = async (url, init = {}) => {
    const rec = { url: new URL(url), headers: new Headers(init.headers), at: performance.now() };
    requests.push(rec);
    const res = await inner(url, init);
    rec.status = res.status;
    rec.responseHeaders = res.headers;
    rec.answeredAt = performance.now();
    return res;
  };
  return { fetch, requests };
}

/** collector returns subscribe() callbacks that log everything they receive. */
export function collector() {
  const log = { events: [], opens: 0, reconnects: [], errors: [] };
  const callbacks = {
    // The 4th argument, the channel, comes with multiplexed subscriptions only.
    onEvent: (event, data, id, channel) => log.events.push(channel === undefined ? { event, data, id } : { event, data, id, channel }),
    onOpen: () => log.opens++,
    onReconnect: (attempt) => log.reconnects.push(attempt),
    onError: (err) => log.errors.push(err),
  };
  return { log, callbacks };
}
