// A reverse proxy that injects faults in front of any server (mock or real), so the lifecycle
// tests need nothing from the server beyond its HTTP interface:
//   dropStreams({ abrupt })  end every proxied stream (/sse/... or /sse?...): cleanly, or by destroying the socket
//   stallStreams()  stop forwarding the bytes of every proxied stream, leaving its connection open
//   block(prefix, status, headers)  answer requests whose path starts with prefix with status
//   unblock()
import http from "node:http";

const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"]);
const STREAM_PATH = /^\/sse(\/|\?|$)/;

export async function startFaultProxy(upstream) {
  const target = new URL(upstream);
  const active = new Set(); // { path, res, up, upRes } of requests in flight
  let blocked = null; // { prefix, status, headers } or null

  const server = http.createServer((req, res) => {
    if (blocked && req.url.startsWith(blocked.prefix)) {
      const body = JSON.stringify({ error: "blocked by test proxy" });
      res.writeHead(blocked.status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body), ...blocked.headers });
      res.end(body);
      return;
    }
    const pair = { path: req.url, res, up: null, upRes: null };
    pair.up = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent: false },
      (upRes) => {
        pair.upRes = upRes;
        res.writeHead(upRes.statusCode, endToEnd(upRes.headers));
        res.flushHeaders();
        upRes.pipe(res);
      },
    );
    pair.up.on("error", () => res.destroy());
    active.add(pair);
    res.on("close", () => {
      active.delete(pair);
      pair.up.destroy();
    });
    req.pipe(pair.up);
  });

  const streams = () => [...active].filter((pair) => STREAM_PATH.test(pair.path));

  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    dropStreams({ abrupt = false } = {}) {
      for (const pair of streams()) {
        pair.upRes?.unpipe(pair.res);
        pair.up.destroy();
        if (abrupt) pair.res.destroy();
        else pair.res.end();
      }
    },
    // The upstream keeps writing into a pipe nobody reads: to the client, a silent stream.
    stallStreams() {
      for (const pair of streams()) pair.upRes?.unpipe(pair.res);
    },
    block(prefix, status, headers = {}) {
      blocked = { prefix, status, headers };
    },
    unblock() {
      blocked = null;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function endToEnd(headers) {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name)));
}
