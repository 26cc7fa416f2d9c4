package channel

import (
	"bytes"
	"strconv"

	"github.com/workkit/realtime/httpx"
	"github.com/workkit/realtime/ring"
)

// SSE framing: every byte of the event stream the server sends is built
// here, byte-exact as SPEC 3.1 and 3.2 spell it — event frames, resets,
// the opening frame, retry hints and heartbeats. The reactor is only told
// what to send.

// Event names the server reserves.
const (
	// ResetEvent tells a client its last id cannot be resumed (SPEC 3.2).
	ResetEvent = "realtime.reset"
)

// Reset reasons (SPEC 3.2).
const (
	ReasonBufferGap     = "buffer_gap"
	ReasonBufferOverrun = "buffer_overrun"
)

// Heartbeat is the comment frame sent on a quiet stream (SPEC 3.1).
var Heartbeat = []byte(": hb\n\n")

// AppendEvent appends the frame of one event:
//
//	id: <id>\nevent: <event>\ndata: <data>\n\n
//
// data must be compact JSON (one line).
func AppendEvent(dst []byte, id uint64, event, data []byte) []byte {
	dst = append(dst, "id: "...)
	dst = strconv.AppendUint(dst, id, 10)
	dst = append(dst, "\nevent: "...)
	dst = append(dst, event...)
	dst = append(dst, "\ndata: "...)
	dst = append(dst, data...)
	return append(dst, "\n\n"...)
}

// AppendResetData appends the JSON data of a reset: {"reason":..,"lastKnownId":L}
// and, for buffer_overrun, ,"oldestId":O.
func AppendResetData(dst []byte, r Reset) []byte {
	dst = append(dst, `{"reason":"`...)
	dst = append(dst, r.Reason...)
	dst = append(dst, `","lastKnownId":`...)
	dst = strconv.AppendUint(dst, r.LastKnown, 10)
	if r.Reason == ReasonBufferOverrun {
		dst = append(dst, `,"oldestId":`...)
		dst = strconv.AppendUint(dst, r.Oldest, 10)
	}
	return append(dst, '}')
}

// AppendReset appends the frame of a reset; note that event precedes id:
//
//	event: realtime.reset\nid: <N>\ndata: {...}\n\n
func AppendReset(dst []byte, r Reset) []byte {
	dst = append(dst, "event: "+ResetEvent+"\nid: "...)
	dst = strconv.AppendUint(dst, r.ID, 10)
	dst = append(dst, "\ndata: "...)
	dst = AppendResetData(dst, r)
	return append(dst, "\n\n"...)
}

// AppendRetry appends a retry hint: "retry: <ms>\n\n".
func AppendRetry(dst []byte, ms int64) []byte {
	dst = append(dst, "retry: "...)
	dst = strconv.AppendInt(dst, ms, 10)
	return append(dst, "\n\n"...)
}

// AppendOpen appends the first frame of a stream (SPEC 3.1): the retry
// hint and, for a stream opened without a last id, the channel's current
// id, so a client that drops before its first event resumes from it:
//
//	retry: <ms>\n\n             (a resume)
//	retry: <ms>\nid: <N>\n\n    (a fresh stream)
func AppendOpen(dst []byte, ms int64, fresh bool, n uint64) []byte {
	if !fresh {
		return AppendRetry(dst, ms)
	}
	dst = append(dst, "retry: "...)
	dst = strconv.AppendInt(dst, ms, 10)
	dst = append(dst, "\nid: "...)
	dst = strconv.AppendUint(dst, n, 10)
	return append(dst, "\n\n"...)
}

// EventOf returns the event name and data of a frame made by AppendEvent.
// The slices alias the frame's bytes.
func EventOf(f *ring.Frame) (event, data []byte) {
	b := f.Bytes()
	// Skip "id: <id>\nevent: ".
	i := bytes.IndexByte(b, '\n') + len("\nevent: ")
	j := i + bytes.IndexByte(b[i:], '\n')
	event = b[i:j]
	data = b[j+len("\ndata: ") : len(b)-len("\n\n")]
	return event, data
}

// The multiplexed forms (SPEC 3.8). The `id:` line of a multiplexed stream
// is its cursor, which differs per stream: it is not part of these frames
// but written just before each by the stream's connection (AppendCursorLine
// via MuxStream.AppendLine), so the event part is still built once per
// event.

// AppendMuxEvent appends the multiplexed form of an event, without its id
// line:
//
//	event: <event>\ndata: {"channel":"<ch>","id":<id>,"data":<data>}\n\n
func AppendMuxEvent(dst []byte, ch string, id uint64, event, data []byte) []byte {
	dst = append(dst, "event: "...)
	dst = append(dst, event...)
	dst = append(dst, "\ndata: {\"channel\":"...)
	dst = httpx.AppendJSONString(dst, ch)
	dst = append(dst, `,"id":`...)
	dst = strconv.AppendUint(dst, id, 10)
	dst = append(dst, `,"data":`...)
	dst = append(dst, data...)
	return append(dst, "}\n\n"...)
}

// AppendMuxReset appends a channel's reset in a multiplexed stream:
//
//	event: realtime.reset\ndata: {"channel":"<ch>","reason":...,"lastKnownId":...[,"oldestId":...]}\n\n
func AppendMuxReset(dst []byte, ch string, r Reset) []byte {
	dst = append(dst, "event: "+ResetEvent+"\ndata: "...)
	return append(AppendMuxResetData(dst, ch, r), "\n\n"...)
}

// AppendMuxResetData appends the data of a multiplexed reset (also an
// element of a multiplexed poll's answer).
func AppendMuxResetData(dst []byte, ch string, r Reset) []byte {
	dst = append(dst, `{"channel":`...)
	dst = httpx.AppendJSONString(dst, ch)
	dst = append(dst, ',')
	var tmp [128]byte
	data := AppendResetData(tmp[:0], r) // {"reason":...}
	return append(dst, data[1:]...)
}

// AppendCursorLine appends the id line that precedes each frame of a
// multiplexed stream: "id: <cursor>\n".
func AppendCursorLine(dst, cursor []byte) []byte {
	dst = append(dst, "id: "...)
	dst = append(dst, cursor...)
	return append(dst, '\n')
}

// AppendMuxOpen appends the first frame of a multiplexed stream:
// "retry: <ms>\nid: <cursor>\n\n".
func AppendMuxOpen(dst []byte, ms int64, cursor []byte) []byte {
	dst = append(dst, "retry: "...)
	dst = strconv.AppendInt(dst, ms, 10)
	dst = append(dst, "\nid: "...)
	dst = append(dst, cursor...)
	return append(dst, "\n\n"...)
}

// muxCopy returns the multiplexed form of event frame f of channel ch, a
// new frame whose ID is f's.
func muxCopy(ch string, f *ring.Frame) *ring.Frame {
	event, data := EventOf(f)
	m := ring.NewFrame()
	m.ID = f.ID
	m.SetBytes(AppendMuxEvent(m.Buf(), ch, f.ID, event, data))
	return m
}

// muxFrameLocked builds the multiplexed form of event id for the
// channel's multiplexed members, holding one reference per member; nil
// when it has none. c.mu is held.
func (c *Channel) muxFrameLocked(id uint64, event, data []byte) *ring.Frame {
	if c.muxSubs == 0 {
		return nil
	}
	m := ring.NewFrame()
	m.ID = id
	m.SetBytes(AppendMuxEvent(m.Buf(), c.name, id, event, data))
	m.Retain(int32(c.muxSubs - 1))
	return m
}

// The last frame of a stream ended for good (SPEC 3.9).

// AppendClosed appends the last frame of a stream that is ended for good:
//
//	event: realtime.closed\ndata: {"reason":"<reason>"}\n\n
func AppendClosed(dst []byte, reason string) []byte {
	dst = append(dst, "event: "+ClosedEvent+"\ndata: {\"reason\":\""...)
	dst = append(dst, reason...)
	return append(dst, "\"}\n\n"...)
}

// AppendMuxClosed appends the multiplexed form, which ends one channel of
// a multiplexed stream:
//
//	event: realtime.closed\ndata: {"channel":"<ch>","reason":"<reason>"}\n\n
func AppendMuxClosed(dst []byte, ch, reason string) []byte {
	dst = append(dst, "event: "+ClosedEvent+"\ndata: {\"channel\":"...)
	dst = httpx.AppendJSONString(dst, ch)
	dst = append(dst, ",\"reason\":\""...)
	dst = append(dst, reason...)
	return append(dst, "\"}\n\n"...)
}
