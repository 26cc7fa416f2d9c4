package httpx

import (
	"bytes"
	"net/netip"
)

// parseTarget parses the request target into RawPath, Path and RawQuery. Accepted:
//
//	origin-form    /path?query
//	absolute-form  http://host[:port]/path?query (also https, scheme case-insensitive);
//	               the host is checked but dropped, an empty path becomes "/"
//	asterisk-form  *   (OPTIONS only)
//
// A '#fragment' is cut off before the query is looked for. CONNECT's authority-form
// is not supported (and CONNECT takes origin-form only). Anything else is errTarget.
func (r *Request) parseTarget(t []byte) error {
	if len(t) == 0 || !allIn(&targetTable, t) {
		return errTarget
	}
	if len(t) == 1 && t[0] == '*' {
		if string(r.Method) != strMethodOptions {
			return errTarget
		}
		r.RawPath, r.Path = t, t
		return nil
	}
	if i := bytes.IndexByte(t, '#'); i >= 0 {
		t = t[:i]
	}
	if i := bytes.IndexByte(t, '?'); i >= 0 {
		t, r.RawQuery = t[:i], t[i+1:]
	}
	path, err := r.targetPath(t)
	if err != nil {
		return err
	}
	r.RawPath = path
	return r.decodePath()
}

// targetPath returns the path of an origin-form or absolute-form target (query and
// fragment already removed).
func (r *Request) targetPath(t []byte) ([]byte, error) {
	if len(t) > 0 && t[0] == '/' {
		return t, nil
	}
	if string(r.Method) == strMethodConnect {
		return nil, errTarget
	}
	var rest []byte
	switch {
	case hasPrefixFold(t, strSchemeHTTP):
		rest = t[len(strSchemeHTTP):]
	case hasPrefixFold(t, strSchemeHTTPS):
		rest = t[len(strSchemeHTTPS):]
	default:
		return nil, errTarget
	}
	authority, path := rest, []byte(nil)
	if i := bytes.IndexByte(rest, '/'); i >= 0 {
		authority, path = rest[:i], rest[i:]
	}
	if !validAuthority(authority) {
		return nil, errTarget
	}
	if len(path) == 0 {
		start := len(r.scratch)
		r.scratch = append(r.scratch, '/')
		path = r.scratch[start:len(r.scratch):len(r.scratch)]
	}
	return path, nil
}

// validAuthority accepts host[:port] where host is a non-empty reg-name without
// pct-encoding or a bracketed IPv6 literal, and port is digits. Userinfo is refused.
// Everything accepted here is accepted by net/url too.
func validAuthority(a []byte) bool {
	host, port := a, []byte(nil)
	if len(a) > 0 && a[0] == '[' {
		end := bytes.IndexByte(a, ']')
		if end < 0 || !validIPv6(a[1:end]) {
			return false
		}
		port = a[end+1:]
	} else {
		if i := bytes.IndexByte(a, ':'); i >= 0 {
			host, port = a[:i], a[i:]
		}
		if len(host) == 0 || !allIn(&hostTable, host) {
			return false
		}
	}
	if len(port) == 0 {
		return true
	}
	if port[0] != ':' {
		return false
	}
	for _, c := range port[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// validIPv6 reports whether b is an IPv6 address (no zone; IPv4 is refused as net/url
// does). It allocates, which is acceptable on this rare path.
func validIPv6(b []byte) bool {
	if len(b) == 0 || !allIn(&ipv6Table, b) {
		return false
	}
	addr, err := netip.ParseAddr(string(b))
	return err == nil && addr.Is6()
}

// decodePath sets Path from RawPath: RawPath itself when it has no '%', else its
// decoding in scratch.
func (r *Request) decodePath() error {
	if bytes.IndexByte(r.RawPath, '%') < 0 {
		r.Path = r.RawPath
		return nil
	}
	v, ok := r.unescape(r.RawPath, false)
	if !ok {
		return errPathEscape
	}
	r.Path = v
	return nil
}

// unescape appends the %XX-decoding of s to scratch (with '+' as space when plus is
// set) and returns that part of scratch, capacity-capped. It reports false, leaving
// scratch unchanged, when s holds an invalid escape.
func (r *Request) unescape(s []byte, plus bool) ([]byte, bool) {
	start := len(r.scratch)
	dst := r.scratch
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) || hexValue[s[i+1]] < 0 || hexValue[s[i+2]] < 0 {
				return nil, false
			}
			c = byte(hexValue[s[i+1]])<<4 | byte(hexValue[s[i+2]])
			i += 2
		case c == '+' && plus:
			c = ' '
		}
		dst = append(dst, c)
	}
	r.scratch = dst
	return dst[start:len(dst):len(dst)], true
}
