package httpx

import "unicode/utf8"

// jsonControl holds the escape of each ASCII control character, in the short form
// where JSON has one (as encoding/json writes them). Immutable.
var jsonControl = func() (t [0x20]string) {
	for c := range t {
		t[c] = `\u00` + string(strHexDigits[c>>4]) + string(strHexDigits[c&0xf])
	}
	t['\b'], t['\f'], t['\n'], t['\r'], t['\t'] = `\b`, `\f`, `\n`, `\r`, `\t`
	return t
}()

// AppendJSONString appends s as a JSON string literal: quoted, with '"', '\\' and
// control characters escaped, U+2028 and U+2029 escaped (for JavaScript), and each
// invalid UTF-8 byte replaced by \ufffd. The output matches encoding/json with HTML
// escaping off.
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		esc, size := jsonEscapeAt(s, i)
		if esc == "" {
			i += size
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = append(dst, esc...)
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// jsonStringLen returns len(AppendJSONString(nil, s)) without building it.
func jsonStringLen(s string) int {
	n := 2
	for i := 0; i < len(s); {
		esc, size := jsonEscapeAt(s, i)
		if esc == "" {
			n += size
		} else {
			n += len(esc)
		}
		i += size
	}
	return n
}

// jsonEscapeAt looks at the character starting at s[i] and returns its size in bytes
// and the escape to write instead, or "" when it is copied as is.
func jsonEscapeAt(s string, i int) (esc string, size int) {
	c := s[i]
	if c < utf8.RuneSelf {
		switch {
		case jsonSafeTable[c]:
			return "", 1
		case c == '"':
			return `\"`, 1
		case c == '\\':
			return `\\`, 1
		}
		return jsonControl[c], 1
	}
	r, size := utf8.DecodeRuneInString(s[i:])
	switch {
	case r == utf8.RuneError && size == 1:
		return `\ufffd`, 1
	case r == '\u2028':
		return `\u2028`, size
	case r == '\u2029':
		return `\u2029`, size
	}
	return "", size
}
