// Starts the real Go server (the binary named by $REALTIME_BIN) for the lifecycle tests, with the
// same interface as the mock server. Flags as in SPEC section 2.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import net from "node:net";
import { delay } from "./wait.js";

export async function startRealServer({ bin, secret, retryMs = 50, replayBuffer = 50, maxSubscribersPerChannel = 1000 }) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const publishKey = randomBytes(16).toString("hex");
  const args = [
    `--addr=127.0.0.1:${port}`,
    "--admin-addr=",
    "--auth=jwt",
    `--jwt-secret=${secret}`,
    `--publish-key=${publishKey}`,
    `--retry=${retryMs}`,
    `--replay-buffer=${replayBuffer}`,
    `--max-subscribers-per-channel=${maxSubscribersPerChannel}`,
  ];
  const child = spawn(bin, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (b) => (stderr += b));
  const exited = new Promise((resolve) => child.once("exit", resolve));
  await untilHealthy(url, child, () => stderr);
  return {
    url,
    publish: async (channel, event, data) => {
      const res = await fetch(`${url}/publish/${encodeURIComponent(channel)}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${publishKey}`, "Content-Type": "application/json" },
        body: JSON.stringify({ event, data }),
      });
      if (!res.ok) throw new Error(`publish answered ${res.status}: ${await res.text()}`);
      return (await res.json()).id;
    },
    close: async () => {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

async function untilHealthy(url, child, stderr) {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`realtime exited with ${child.exitCode}: ${stderr()}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await delay(25);
  }
  child.kill("SIGKILL");
  throw new Error(`realtime did not become healthy: ${stderr()}`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}
