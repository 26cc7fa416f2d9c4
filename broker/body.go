package broker

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"unicode/utf8"
)

// Publish bodies (SPEC 3.3): {"event":"<name>","data":<any JSON>}.

var (
	errInvalidJSON   = errors.New("invalid JSON")
	errNotObject     = errors.New("body must be a JSON object")
	errNoData        = errors.New("data must not be undefined")
	errNoEvent       = errors.New("event is required")
	errEventNotStr   = errors.New("event must be a string")
	errEventName     = errors.New("event must match ^[a-zA-Z0-9:_.-]{1,64}$")
	errEventReserved = errors.New("event names starting with realtime. are reserved")
	errNotArray      = errors.New("body must be a JSON array")
	errNotUTF8       = errors.New("data must be valid UTF-8")
)

// nameChars are the characters of channel names (default pattern) and
// event names.
var nameChars = func() (t [256]bool) {
	for _, c := range []byte("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:_.-") {
		t[c] = true
	}
	return t
}()

// validName reports whether b is 1..max characters of nameChars.
func validName(b []byte, max int) bool {
	if len(b) == 0 || len(b) > max {
		return false
	}
	for _, c := range b {
		if !nameChars[c] {
			return false
		}
	}
	return true
}

// compactJSON validates src as one JSON value and appends its compact form
// to dst[:0] (insignificant whitespace removed), reusing dst's capacity.
func compactJSON(dst *bytes.Buffer, src []byte) error {
	dst.Reset()
	if err := json.Compact(dst, src); err != nil {
		return errInvalidJSON
	}
	return nil
}

// event is one parsed publish item. Its slices alias the compacted body.
type event struct {
	name    []byte // validated event name
	data    []byte // compact JSON of data
	channel []byte // the channel member of a batch item, if a string
}

// parseEvent reads the event and data members of the compact JSON object
// obj. Later duplicates of a member win, as in encoding/json.
func parseEvent(obj []byte) (event, error) {
	var ev event
	var nameTok []byte
	err := eachMember(obj, func(key, val []byte) error {
		switch {
		case keyIs(key, "event"):
			nameTok = val
		case keyIs(key, "data"):
			ev.data = val
		case keyIs(key, "channel"):
			ev.channel, _ = stringValue(val)
		}
		return nil
	})
	if err != nil {
		return ev, err
	}
	if ev.data == nil {
		return ev, errNoData
	}
	if !utf8.Valid(ev.data) { // streams are text/event-stream; charset=utf-8 (SPEC 5)
		return ev, errNotUTF8
	}
	if nameTok == nil {
		return ev, errNoEvent
	}
	if ev.name, err = stringValue(nameTok); err != nil {
		return ev, err
	}
	if !validName(ev.name, 64) {
		return ev, errEventName
	}
	if bytes.HasPrefix(ev.name, []byte("realtime.")) {
		return ev, errEventReserved
	}
	return ev, nil
}

// eachMember calls fn with the key token (quoted) and the value of every
// member of the compact JSON object obj.
func eachMember(obj []byte, fn func(key, val []byte) error) error {
	if len(obj) < 2 || obj[0] != '{' {
		return errNotObject
	}
	i := 1
	for i < len(obj) && obj[i] != '}' {
		k := skipValue(obj, i)
		key := obj[i:k]
		v := k + 1 // past ':'
		end := skipValue(obj, v)
		if err := fn(key, obj[v:end]); err != nil {
			return err
		}
		i = end
		if i < len(obj) && obj[i] == ',' {
			i++
		}
	}
	return nil
}

// eachElement calls fn with every element of the compact JSON array arr.
func eachElement(arr []byte, fn func(el []byte) error) error {
	if len(arr) < 2 || arr[0] != '[' {
		return errNotArray
	}
	for i := 1; i < len(arr) && arr[i] != ']'; {
		end := skipValue(arr, i)
		if err := fn(arr[i:end]); err != nil {
			return err
		}
		i = end
		if i < len(arr) && arr[i] == ',' {
			i++
		}
	}
	return nil
}

// skipValue returns the index just past the JSON value starting at b[i].
// b must be valid compact JSON (compactJSON checked it).
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return i
	default: // number, true, false, null
		for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' {
			i++
		}
		return i
	}
}

// skipString returns the index just past the string starting at b[i].
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// keyIs reports whether the quoted key token equals name. Keys spelled with
// escapes are decoded first.
func keyIs(tok []byte, name string) bool {
	if bytes.IndexByte(tok, '\\') < 0 {
		return len(tok) == len(name)+2 && string(tok[1:len(tok)-1]) == name
	}
	var s string
	return json.Unmarshal(tok, &s) == nil && s == name
}

// stringValue returns the content of a JSON string token, decoding escapes
// (rare in event names) with encoding/json.
func stringValue(tok []byte) ([]byte, error) {
	if len(tok) < 2 || tok[0] != '"' {
		return nil, errEventNotStr
	}
	if bytes.IndexByte(tok, '\\') < 0 {
		return tok[1 : len(tok)-1], nil
	}
	var s string
	if err := json.Unmarshal(tok, &s); err != nil {
		return nil, errEventNotStr
	}
	return []byte(strings.Clone(s)), nil
}
