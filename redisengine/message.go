package redisengine

import (
	"errors"
	"strconv"
	"strings"
)

// message is one event as a node receives it from pub/sub:
//
//	<base> <id> <event> <data>
//
// base and id in decimal, event a validated name (no space), data the
// event's compact JSON (the rest of the payload).
type message struct {
	base, id    uint64
	event, data string
}

var errMessage = errors.New("redisengine: malformed pub/sub message")

func parseMessage(payload string) (message, error) {
	var m message
	parts := [3]string{}
	rest := payload
	for i := range parts {
		j := strings.IndexByte(rest, ' ')
		if j <= 0 {
			return m, errMessage
		}
		parts[i], rest = rest[:j], rest[j+1:]
	}
	var err1, err2 error
	m.base, err1 = strconv.ParseUint(parts[0], 10, 64)
	m.id, err2 = strconv.ParseUint(parts[1], 10, 64)
	if err1 != nil || err2 != nil || rest == "" {
		return m, errMessage
	}
	m.event, m.data = parts[2], rest
	return m, nil
}
