// EventStreamParser against the WHATWG event-stream rules. Every stream is fed whole, cut in two
// at every byte position, one byte at a time, and cut at random points; all must agree.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { EventStreamParser } from "../realtime.js";

const utf8 = (s) => new TextEncoder().encode(s);
const BOM = [0xef, 0xbb, 0xbf];
const ev = (data, type = "message", lastEventId = "") => ({ type, data, lastEventId });

/** Parses chunks with a fresh parser and returns everything it reported. */
function run(chunks) {
  const out = { events: [], retries: [], comments: [], ids: [] };
  const parser = new EventStreamParser({
    onEvent: (e) => out.events.push(e),
    onRetry: (ms) => out.retries.push(ms),
    onComment: (text) => out.comments.push(text),
  });
  for (const chunk of chunks) parser.push(chunk);
  parser.end();
  out.lastEventId = parser.lastEventId;
  return out;
}

/** Every way the tests cut a byte stream into chunks. */
function* cuts(bytes) {
  yield ["whole", [bytes]];
  for (let i = 1; i < bytes.length; i++) yield [`cut at ${i}`, [bytes.subarray(0, i), bytes.subarray(i)]];
  yield ["byte by byte", Array.from(bytes, (_, i) => bytes.subarray(i, i + 1))];
  let seed = bytes.length;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let n = 0; n < 50; n++) {
    const points = Array.from({ length: 4 }, () => Math.floor(random() * (bytes.length + 1))).sort((a, b) => a - b);
    const chunks = [];
    let from = 0;
    for (const p of [...points, bytes.length]) {
      chunks.push(bytes.subarray(from, p)); // empty chunks included on purpose
      from = p;
    }
    yield [`random cut ${points}`, chunks];
  }
}

const cases = [
  { name: "LF line ends", input: "data: a\n\ndata: b\n\n", events: [ev("a"), ev("b")] },
  { name: "CR line ends", input: "data: a\r\rdata: b\r\r", events: [ev("a"), ev("b")] },
  { name: "CRLF line ends", input: "data: a\r\n\r\ndata: b\r\ndata: c\r\n\r\n", events: [ev("a"), ev("b\nc")] },
  { name: "mixed line ends", input: "data: a\r\ndata: b\rdata: c\n\r\n", events: [ev("a\nb\nc")] },
  { name: "LF then CRLF is a blank line", input: "data: a\n\r\ndata: b\r\r\n", events: [ev("a"), ev("b")] },
  { name: "CR CR LF is two line ends", input: "data: a\r\r\ndata: b\n\n", events: [ev("a"), ev("b")] },
  {
    name: "comments",
    input: ": hb\n\n:\ndata: x\n:  two spaces\n\n",
    events: [ev("x")],
    comments: [" hb", "", "  two spaces"],
  },
  { name: "multi-line data", input: "data: a\ndata:\ndata:  b\ndata\n\n", events: [ev("a\n\n b\n")] },
  { name: "no space after the colon", input: "data:x\nevent:y\n\n", events: [ev("x", "y")] },
  { name: "only one space is stripped", input: "data:  x \n\n", events: [ev(" x ")] },
  { name: "BOM at the start is skipped", input: [...BOM, ...utf8("data: a\n\n")], events: [ev("a")] },
  {
    name: "only the first BOM is skipped",
    input: [...BOM, ...BOM, ...utf8("data: a\n\ndata: b\n\n")],
    events: [ev("b")], // the first line's field name is "\uFEFFdata": unknown, ignored
  },
  { name: "retry with digits", input: "retry: 1500\n\nretry:20\n", retries: [1500, 20] },
  { name: "retry not all digits is ignored", input: "retry: 15x\nretry: -1\nretry: \nretry: 1.5\nretry\n\n", retries: [] },
  {
    name: "id sets the last event id, NUL ids are ignored",
    input: "id: 1\ndata: a\n\nid: 2\0\ndata: b\n\n",
    events: [ev("a", "message", "1"), ev("b", "message", "1")],
    lastEventId: "1",
  },
  {
    name: "the id persists across events",
    input: "id: 7\ndata: a\n\ndata: b\n\n",
    events: [ev("a", "message", "7"), ev("b", "message", "7")],
    lastEventId: "7",
  },
  { name: "an empty id clears the last event id", input: "id: 7\ndata: a\n\nid\ndata: b\n\n", events: [ev("a", "message", "7"), ev("b")], lastEventId: "" },
  { name: "an id without data moves the last event id, fires nothing", input: "id: 5\n\n", events: [], lastEventId: "5" },
  { name: "empty data fires nothing and resets the event type", input: "event: x\n\n\ndata: y\n\n", events: [ev("y")] },
  { name: "a data field without colon fires an empty event", input: "data\n\ndata:\n\n", events: [ev(""), ev("")] },
  { name: "event type is reset after dispatch", input: "event: foo\ndata: x\n\ndata: y\n\n", events: [ev("x", "foo"), ev("y")] },
  { name: "unknown fields are ignored", input: "foo: bar\nData: no\nidx: 3\ndata: x\n\n", events: [ev("x")] },
  { name: "an unterminated event is discarded", input: "data: a\n\ndata: b\n", events: [ev("a")] },
  { name: "an unterminated line is discarded", input: "data: a\n\ndata: b", events: [ev("a")] },
  {
    name: "the server's frames (SPEC 3.1, 3.2)",
    input:
      'retry: 2000\n\nid: 17\nevent: run.stage\ndata: {"stage":"x","progress":40}\n\n: hb\n\n' +
      'event: realtime.reset\nid: 20\ndata: {"reason":"buffer_gap","lastKnownId":99}\n\n',
    events: [
      ev('{"stage":"x","progress":40}', "run.stage", "17"),
      ev('{"reason":"buffer_gap","lastKnownId":99}', "realtime.reset", "20"),
    ],
    retries: [2000],
    comments: [" hb"],
    lastEventId: "20",
  },
  { name: "UTF-8 of 2, 3 and 4 bytes", input: "data: é€😀\nevent: ñ\n\n", events: [ev("é€😀", "ñ")] },
  { name: "invalid UTF-8 becomes U+FFFD", input: [...utf8("data: a"), 0xff, 0xc3, ...utf8("\n\n")], events: [ev("a\uFFFD\uFFFD")] },
];

describe("EventStreamParser", () => {
  for (const c of cases) {
    test(c.name, () => {
      const bytes = Uint8Array.from(typeof c.input === "string" ? utf8(c.input) : c.input);
      const want = {
        events: c.events ?? [],
        retries: c.retries ?? [],
        comments: c.comments ?? [],
        lastEventId: c.lastEventId ?? "",
      };
      for (const [how, chunks] of cuts(bytes)) {
        const got = run(chunks);
        assert.deepEqual(
          { events: got.events, retries: got.retries, comments: got.comments, lastEventId: got.lastEventId },
          want,
          how,
        );
      }
    });
  }

  test("an event ending in CR is dispatched without waiting for the next chunk", () => {
    const seen = [];
    const parser = new EventStreamParser({ onEvent: (e) => seen.push(e.data) });
    parser.push(utf8("data: a\r\r"));
    assert.deepEqual(seen, ["a"]);
    parser.push(utf8("\ndata: b\r\n\r"));
    assert.deepEqual(seen, ["a", "b"]); // the LF after the split CR ended no extra line
  });

  test("a UTF-8 character split across chunks is decoded once", () => {
    for (const ch of ["é", "€", "😀"]) {
      const bytes = utf8(`data: ${ch}\n\n`);
      for (let i = 7; i < 6 + utf8(ch).length; i++) {
        assert.deepEqual(run([bytes.subarray(0, i), bytes.subarray(i)]).events, [ev(ch)], `${ch} cut at ${i}`);
      }
    }
  });

  test("a long stream in small chunks", () => {
    const frames = [];
    for (let i = 1; i <= 500; i++) frames.push(`id: ${i}\nevent: e${i % 3}\ndata: {"n":${i},"s":"ü€😀"}\n\n`);
    const bytes = utf8(frames.join(""));
    const chunks = [];
    for (let i = 0; i < bytes.length; i += 7) chunks.push(bytes.subarray(i, i + 7));
    const got = run(chunks);
    assert.equal(got.events.length, 500);
    assert.deepEqual(got.events[499], ev('{"n":500,"s":"ü€😀"}', "e2", "500"));
  });
});
