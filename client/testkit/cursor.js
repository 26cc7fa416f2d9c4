// encodeCursor builds a cursor in the Go server's format (channel/cursor.go), so that tests can
// resume a multiplexed subscription from positions of their choosing: "1" followed by the
// base64url (no padding) of one 12-byte slot per channel, FNV-1a-32 of its name then its
// position, both big-endian. The client itself never looks inside a cursor.
export function encodeCursor(positions) {
  const entries = Object.entries(positions);
  const raw = Buffer.alloc(12 * entries.length);
  entries.forEach(([name, pos], i) => {
    raw.writeUInt32BE(fnv1a32(name), 12 * i);
    raw.writeBigUInt64BE(BigInt(pos), 12 * i + 4);
  });
  return "1" + raw.toString("base64url");
}

function fnv1a32(text) {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(text, "utf8")) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
