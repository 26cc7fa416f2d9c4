package load

import (
	"bytes"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// monoBase and wallBase tie Go's in-process monotonic clock to the
// system-wide CLOCK_MONOTONIC once, so Mono is fast (no syscall) and yet
// comparable between the loader's processes.
var (
	wallBase = time.Now()
	monoBase = readMonotonic()
)

func readMonotonic() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic("BUG: clock_gettime(CLOCK_MONOTONIC): " + err.Error())
	}
	return ts.Nano()
}

// Mono returns CLOCK_MONOTONIC in nanoseconds: never steps, and the same
// clock in every process of this host. Safe for concurrent use.
func Mono() int64 { return monoBase + int64(time.Since(wallBase)) }

// AppendEventData appends the JSON data of a load-test event: its sequence
// number in the channel, the publisher's Mono() and pad bytes of filler
// ("p"), e.g. {"seq":7,"ts":123456789,"p":"xxxx"}.
func AppendEventData(dst []byte, seq int, ts int64, pad int) []byte {
	dst = append(dst, `{"seq":`...)
	dst = strconv.AppendInt(dst, int64(seq), 10)
	dst = append(dst, `,"ts":`...)
	dst = strconv.AppendInt(dst, ts, 10)
	if pad > 0 {
		dst = append(dst, `,"p":"`...)
		for range pad {
			dst = append(dst, 'x')
		}
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

// ParseEventData extracts seq and ts from data written by AppendEventData
// (any JSON object with those integer members at top level in that form).
func ParseEventData(data []byte) (seq int, ts int64, ok bool) {
	s, ok1 := intMember(data, `"seq":`)
	t, ok2 := intMember(data, `"ts":`)
	return int(s), t, ok1 && ok2
}

// intMember parses the non-negative integer that follows key in data.
func intMember(data []byte, key string) (int64, bool) {
	i := bytes.Index(data, []byte(key))
	if i < 0 {
		return 0, false
	}
	i += len(key)
	for i < len(data) && data[i] == ' ' {
		i++
	}
	var v int64
	n := 0
	for ; i < len(data) && data[i] >= '0' && data[i] <= '9' && n < 19; i++ {
		v = v*10 + int64(data[i]-'0')
		n++
	}
	return v, n > 0
}
