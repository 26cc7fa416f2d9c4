package httpx

import "bytes"

// Query returns the value of the first query parameter whose decoded name is name,
// decoded ('+' is a space, %XX a byte), and whether there is one. It follows
// net/url.ParseQuery: pairs are separated by '&', a pair without '=' has an empty
// value, and pairs holding a ';' or an invalid escape are skipped.
//
// A value without escapes is a slice of RawQuery; a decoded one lives in r's scratch.
// Either stays valid until the next Parse or Reset. Query does not allocate once the
// scratch has grown to fit.
func (r *Request) Query(name string) ([]byte, bool) {
	var out []byte
	found := false
	r.QueryEach(name, func(v []byte) bool {
		out, found = v, true
		return false
	})
	return out, found
}

// unescapedEqual reports whether the query-decoding of enc is name, without
// allocating. An invalid escape never matches.
func unescapedEqual(enc []byte, name string) bool {
	j := 0
	for i := 0; i < len(enc); i++ {
		c := enc[i]
		switch c {
		case '%':
			if i+2 >= len(enc) || hexValue[enc[i+1]] < 0 || hexValue[enc[i+2]] < 0 {
				return false
			}
			c = byte(hexValue[enc[i+1]])<<4 | byte(hexValue[enc[i+2]])
			i += 2
		case '+':
			c = ' '
		}
		if j >= len(name) || name[j] != c {
			return false
		}
		j++
	}
	return j == len(name)
}

// QueryEach calls fn with the decoded value of every query parameter whose
// decoded name is name, in order, until fn returns false; the rules are
// Query's. Each value is valid as Query's are.
func (r *Request) QueryEach(name string, fn func(v []byte) bool) {
	q := r.RawQuery
	for len(q) > 0 {
		var pair []byte
		pair, q, _ = cut(q, '&')
		if len(pair) == 0 || bytes.IndexByte(pair, ';') >= 0 {
			continue
		}
		k, v, _ := cut(pair, '=')
		if !unescapedEqual(k, name) {
			continue
		}
		if v == nil {
			v = pair[len(pair):]
		}
		if bytes.IndexByte(v, '%') >= 0 || bytes.IndexByte(v, '+') >= 0 {
			dec, ok := r.unescape(v, true)
			if !ok {
				continue
			}
			v = dec
		}
		if !fn(v) {
			return
		}
	}
}
