package channel

import (
	"bytes"
	"strconv"

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
