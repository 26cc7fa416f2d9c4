// A fetch stand-in for unit tests of the client: each request is answered by a script function,
// and request bodies behave like real fetch ones (an abort errors a pending request or body).

const encoder = new TextEncoder();

/**
 * scriptedFetch calls answer({ url, headers, signal, n }) for request n (0, 1, ...); it returns a
 * Response or a promise of one. Requests are recorded in `requests`.
 */
export function scriptedFetch(answer) {
  const requests = [];
  const fetch = (url, init = {}) => {
    const req = { url: String(url), headers: new Headers(init.headers), signal: init.signal, n: requests.length, at: performance.now() };
    requests.push(req);
    return new Promise((resolve, reject) => {
      const abort = () => reject(new DOMException("This operation was aborted", "AbortError"));
      if (req.signal?.aborted) return abort();
      req.signal?.addEventListener("abort", abort, { once: true });
      Promise.resolve(answer(req)).then(resolve, reject);
    });
  };
  return { fetch, requests };
}

/**
 * sse answers with an event stream made of chunks (strings). With open: true the body stays
 * open until the request is aborted, like a live stream; with broken: true it fails after the
 * chunks, like a connection that breaks.
 */
export function sse(req, chunks, { open = false, broken = false, status = 200, headers = {} } = {}) {
  const body = new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      if (open) req.signal?.addEventListener("abort", () => controller.error(new DOMException("aborted", "AbortError")), { once: true });
      else if (!broken) controller.close();
    },
    // Called once the chunks were read: erroring in start() would discard them unread.
    pull(controller) {
      if (broken) controller.error(new TypeError("terminated"));
    },
  });
  return new Response(body, { status, headers: { "Content-Type": "text/event-stream", ...headers } });
}

/**
 * liveSse answers with an open event stream the test writes to: push(text) sends a chunk (and
 * does nothing once the request is aborted, which errors the body as a real fetch does).
 */
export function liveSse(req) {
  let controller;
  let aborted = false;
  const body = new ReadableStream({
    start(c) {
      controller = c;
    },
  });
  req.signal?.addEventListener("abort", () => {
    aborted = true;
    controller.error(new DOMException("aborted", "AbortError"));
  }, { once: true });
  return {
    response: new Response(body, { headers: { "Content-Type": "text/event-stream" } }),
    push: (text) => {
      if (!aborted) controller.enqueue(encoder.encode(text));
    },
  };
}

export function json(body, { status = 200, headers = {} } = {}) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
}

/** never answers a request until it is aborted. */
export const never = () => new Promise(() => {});
