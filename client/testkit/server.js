// startServer is what the lifecycle tests run against: the mock server by default, or the real Go
// binary when REALTIME_BIN is set (REALTIME_BIN=../realtime node --test test/). Both expose:
//   url                       base URL, http://127.0.0.1:<port>
//   token({ channels, ttlSec })  a subscriber JWT (default: every channel)
//   publish(channel, event, data) -> Promise<id>
//   close()
import { randomBytes } from "node:crypto";
import { signJwt } from "./jwt.js";
import { startMockServer } from "./mock-server.js";
import { startRealServer } from "./real-server.js";

/** Options: retryMs, replayBuffer, maxSubscribersPerChannel (see SPEC section 2). */
export async function startServer(options = {}) {
  const secret = randomBytes(32).toString("hex");
  const bin = process.env.REALTIME_BIN;
  const server = bin ? await startRealServer({ ...options, bin, secret }) : await startMockServer({ ...options, secret });
  const token = ({ channels = ["*"], ttlSec = 300 } = {}) =>
    signJwt({ sub: "test", exp: Math.floor(Date.now() / 1000) + ttlSec, channels }, secret);
  return { ...server, token, real: Boolean(bin) };
}
