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
 * open until the request is aborted, like a live stream.
 */
export function sse(req, chunks, { open = false, status = 200, headers = {} } = {}) {
  const body = new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      if (!open) controller.close();
      else req.signal?.addEventListener("abort", () => controller.error(new DOMException("aborted", "AbortError")), { once: true });
    },
  });
  return new Response(body, { status, headers: { "Content-Type": "text/event-stream", ...headers } });
}

export function json(body, { status = 200, headers = {} } = {}) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
}

/** never answers a request until it is aborted. */
export const never = () => new Promise(() => {});
