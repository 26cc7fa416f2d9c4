// startServer is what the lifecycle tests run against: the mock server by default, or the real Go
// binary when REALTIME_BIN is set (REALTIME_BIN=../realtime node --test test/). startMock is the
// mock whatever the environment says, for the tests of what only the mock speaks yet
// (realtime.closed). Both expose:
//   url                       base URL, http://127.0.0.1:<port>
//   token({ channels, ttlSec })  a subscriber JWT (default: every channel)
//   publish(channel, event, data) -> Promise<id>
//   encodeCursor({ channel: position })  a multiplexed cursor in the server's format
//   revoke(reason)            ends the streams of the tokens' principal with realtime.closed
//                             (the real server: POST /disconnect, reason "revoked" only)
//   deleteChannel(name)       ends a channel's streams (DELETE /channels/{name}) -> how many
//   close()
// and the mock also heldPolls(), and revoke() answers its held long-polls too.
import { randomBytes } from "node:crypto";
import { encodeCursor as realCursor } from "./cursor.js";
import { signJwt } from "./jwt.js";
import { encodeCursor as mockCursor, startMockServer } from "./mock-server.js";
import { startRealServer } from "./real-server.js";

/** Options: retryMs, replayBuffer, maxSubscribersPerChannel (see SPEC section 2). */
export async function startServer(options = {}) {
  const bin = process.env.REALTIME_BIN;
  if (!bin) return startMock(options);
  return { ...(await withTokens((secret) => startRealServer({ ...options, bin, secret }))), real: true, encodeCursor: realCursor };
}

export async function startMock(options = {}) {
  return { ...(await withTokens((secret) => startMockServer({ ...options, secret }))), real: false, encodeCursor: mockCursor };
}

/** withTokens starts a server with a fresh JWT secret and adds token(), signed with it. */
async function withTokens(start) {
  const secret = randomBytes(32).toString("hex");
  const server = await start(secret);
  const token = ({ channels = ["*"], ttlSec = 300 } = {}) =>
    signJwt({ sub: "test", exp: Math.floor(Date.now() / 1000) + ttlSec, channels }, secret);
  return { ...server, token };
}
