// Starts the real Go server (the binary named by $REALTIME_BIN) for the lifecycle tests, with the
// same interface as the mock server, and for the browser test, which also restarts it on the same
// port. Flags as in SPEC section 2 (`realtime --help`): the admin listener is disabled with an
// empty --admin-addr, publishing uses a random --publish-key.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import net from "node:net";
import { delay } from "./wait.js";

const STDERR_KEEP = 64 * 1024; // the tail of the server's log kept for error messages

/**
 * startRealServer spawns `bin` on 127.0.0.1 and resolves once GET /healthz answers. Options:
 * secret (--jwt-secret; with auth "jwt"), auth ("jwt" or "none"), retryMs, replayBuffer,
 * maxSubscribersPerChannel, port (default: a free one), args (extra flags).
 *
 * stop() sends SIGTERM and resolves with the exit code; a server that does not exit 0 within
 * the shutdown bound is a bug (SPEC 5), so close() rejects then. restart() stops the server and
 * starts a new process with the same flags on the same port: a restart as clients see it.
 */
export async function startRealServer({
  bin,
  secret,
  auth = "jwt",
  retryMs = 50,
  replayBuffer = 50,
  maxSubscribersPerChannel = 1000,
  port,
  args: extra = [],
}) {
  port ??= await freePort();
  const url = `http://127.0.0.1:${port}`;
  const publishKey = randomBytes(16).toString("hex");
  const args = [
    "--addr", `127.0.0.1:${port}`,
    "--admin-addr", "", // no admin listener: nothing else to find a port for
    "--auth", auth,
    ...(auth === "jwt" ? ["--jwt-secret", secret] : []),
    "--publish-key", publishKey,
    "--retry", String(retryMs),
    "--replay-buffer", String(replayBuffer),
    "--max-subscribers-per-channel", String(maxSubscribersPerChannel),
    "--shutdown-timeout", "5s",
    ...extra,
  ];
  let proc = await launch(bin, args, url);

  const stop = async (signal = "SIGTERM") => {
    const p = proc;
    if (p.code !== undefined) return p.code;
    p.child.kill(signal);
    // The server's own bound is --shutdown-timeout (5s); past it plus a margin, it is stuck.
    const timer = setTimeout(() => p.child.kill("SIGKILL"), 10_000);
    const { code, signal: killedBy } = await p.exited;
    clearTimeout(timer);
    if (killedBy === "SIGKILL" && signal !== "SIGKILL") {
      throw new Error(`realtime did not exit within 10s of ${signal}; log:\n${p.stderr()}`);
    }
    return code ?? killedBy;
  };

  const control = async (path, method, body) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${publishKey}`, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${await res.text()}`);
    return res.json();
  };

  return {
    url,
    port,
    publishKey,
    get pid() {
      return proc.child.pid;
    },
    log: () => proc.stderr(),
    publish: async (channel, event, data) => {
      const res = await fetch(`${url}/publish/${encodeURIComponent(channel)}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${publishKey}`, "Content-Type": "application/json" },
        body: JSON.stringify({ event, data }),
      });
      if (!res.ok) throw new Error(`publish answered ${res.status}: ${await res.text()}`);
      return (await res.json()).id;
    },
    /** revoke() ends the streams of the tokens' principal ("test") with POST /disconnect; the reason is always "revoked". */
    revoke: async (reason = "revoked") => {
      if (reason !== "revoked") throw new Error(`the real server's disconnects say "revoked", not ${reason}`);
      return (await control("/disconnect", "POST", { principal: "test" })).closed;
    },
    deleteChannel: async (name) => (await control(`/channels/${encodeURIComponent(name)}`, "DELETE")).closed,
    stop,
    restart: async ({ signal = "SIGTERM" } = {}) => {
      const code = await stop(signal);
      if (signal === "SIGTERM" && code !== 0) throw new Error(`realtime exited with ${code} on SIGTERM; log:\n${proc.stderr()}`);
      proc = await launch(bin, args, url);
    },
    close: async () => {
      const code = await stop();
      if (code !== 0) throw new Error(`realtime exited with ${code} on SIGTERM (SPEC 5 wants 0); log:\n${proc.stderr()}`);
    },
  };
}

/** launch spawns the server and waits until it answers /healthz. */
async function launch(bin, args, url) {
  const child = spawn(bin, args, { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr.on("data", (b) => {
    log += b;
    if (log.length > 2 * STDERR_KEEP) log = log.slice(-STDERR_KEEP);
  });
  const proc = { child, stderr: () => log, code: undefined };
  proc.exited = new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      proc.code = code ?? signal;
      resolve({ code, signal });
    });
  });
  const spawnError = new Promise((resolve) => child.once("error", resolve));
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const err = await Promise.race([spawnError, delay(0)]);
    if (err) throw new Error(`cannot start ${bin}: ${err.message}`);
    if (proc.code !== undefined) throw new Error(`realtime exited with ${proc.code} at start; log:\n${log}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) return proc;
    } catch {
      // not listening yet
    }
    await delay(25);
  }
  child.kill("SIGKILL");
  throw new Error(`realtime did not answer ${url}/healthz within 10s; log:\n${log}`);
}

/** freePort finds a port nothing listens on now (another process may take it before we do). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}
