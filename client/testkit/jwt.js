// HS256 JSON Web Tokens for the tests: signed here, verified by the mock server, and accepted by
// the real server started with the same --jwt-secret.
import { createHmac, timingSafeEqual } from "node:crypto";

const encode = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** signJwt returns an HS256 JWT carrying claims. */
export function signJwt(claims, secret) {
  const signed = `${encode({ alg: "HS256", typ: "JWT" })}.${encode(claims)}`;
  return `${signed}.${createHmac("sha256", secret).update(signed).digest("base64url")}`;
}

/** verifyJwt returns the claims of a valid, unexpired HS256 token, or null. */
export function verifyJwt(token, secret, nowMs = Date.now()) {
  const parts = String(token).split(".");
  if (parts.length !== 3) return null;
  const [head, body, sig] = parts;
  const want = createHmac("sha256", secret).update(`${head}.${body}`).digest();
  const got = Buffer.from(sig, "base64url");
  if (got.length !== want.length || !timingSafeEqual(got, want)) return null;
  try {
    if (JSON.parse(Buffer.from(head, "base64url").toString()).alg !== "HS256") return null;
    const claims = JSON.parse(Buffer.from(body, "base64url").toString());
    if (typeof claims.exp !== "number" || claims.exp * 1000 <= nowMs) return null;
    return claims;
  } catch {
    return null;
  }
}

/** matchesChannel applies the SPEC section 4 patterns: exact name, prefix ending in "*", or "*". */
export function matchesChannel(patterns, channel) {
  return (patterns ?? []).some((p) => (p.endsWith("*") ? channel.startsWith(p.slice(0, -1)) : p === channel));
}
