package httpx

// Limits applied when the corresponding Request field is 0 (or negative).
const (
	DefaultMaxHeaderBytes = 8192  // request line + headers + final CRLF
	DefaultMaxBodyBytes   = 65536 // largest accepted Content-Length
	MaxHeaders            = 64    // header lines per request; more is ErrHeaderTooLarge
)

// Header is one header line as received. Both slices point into the buffer given to
// Parse and stay valid until that buffer is reused or the next Parse/Reset.
type Header struct {
	Name  []byte // as sent (not canonicalised); token characters only
	Value []byte // leading and trailing SP/HT trimmed; non-nil even when empty
}

// Request is one parsed HTTP/1.1 request. It is meant to be pooled and reused: Parse
// and Reset keep the limits and the scratch capacity, so a warm Request parses
// without allocating.
//
// Every []byte field is read-only and points either into the buffer passed to Parse
// or into the Request's own scratch; it stays valid until the next Parse or Reset on
// this Request (and, for buffer slices, as long as the caller leaves the buffer alone).
// A Request is not safe for concurrent use, and must not be copied after first use
// (Headers points into the Request itself).
type Request struct {
	MaxHeaderBytes int // head limit; 0 means DefaultMaxHeaderBytes. Kept across Parse/Reset.
	MaxBodyBytes   int // Content-Length limit; 0 means DefaultMaxBodyBytes. Kept across Parse/Reset.

	Method        []byte   // token, case preserved
	RawPath       []byte   // target path as sent, without query and fragment ("/" for absolute-form without path)
	Path          []byte   // RawPath percent-decoded ('+' is not special in paths)
	RawQuery      []byte   // after the first '?', without '#fragment'; nil when there is no '?'
	ProtoMinor    int      // 0 for HTTP/1.0, 1 for HTTP/1.1
	Headers       []Header // in order received, at most MaxHeaders
	ContentLength int64    // -1 when there is no Content-Length header
	Body          []byte   // exactly ContentLength bytes; empty when absent
	KeepAlive     bool     // whether the connection may carry another request after this one

	hdrs    [MaxHeaders]Header // backing array of Headers
	scratch []byte             // decoded Path and Query values; emptied by Parse/Reset
	rawCL   []byte             // first Content-Length element as sent, for duplicate checks
	te      []byte             // value of the last Transfer-Encoding header
	expect  []byte             // value of the last Expect header, nil if none
	hasTE   bool               // a Transfer-Encoding header was seen
	hasHost bool               // a Host header was seen
	close   bool               // a Connection header holds "close"
	keep    bool               // a Connection header holds "keep-alive"
}

// Reset clears the parsed fields. It keeps MaxHeaderBytes, MaxBodyBytes and the
// scratch capacity, and drops the references into the previous input buffer.
func (r *Request) Reset() {
	clear(r.hdrs[:len(r.Headers)])
	r.Method, r.RawPath, r.Path, r.RawQuery = nil, nil, nil, nil
	r.ProtoMinor = 0
	r.Headers = r.hdrs[:0]
	r.ContentLength = -1
	r.Body = nil
	r.KeepAlive = false
	r.scratch = r.scratch[:0]
	r.rawCL, r.te, r.expect = nil, nil, nil
	r.hasTE, r.hasHost, r.close, r.keep = false, false, false, false
}

func (r *Request) headerLimit() int {
	if r.MaxHeaderBytes <= 0 {
		return DefaultMaxHeaderBytes
	}
	return r.MaxHeaderBytes
}

func (r *Request) bodyLimit() int64 {
	if r.MaxBodyBytes <= 0 {
		return DefaultMaxBodyBytes
	}
	return int64(r.MaxBodyBytes)
}

// Header returns the value of the first header called name (ASCII case-insensitive),
// or nil when there is none. A header that is present but empty gives a non-nil
// empty slice. The slice is valid as described on Request.
func (r *Request) Header(name string) []byte {
	for i := range r.Headers {
		if equalFold(r.Headers[i].Name, name) {
			return r.Headers[i].Value
		}
	}
	return nil
}

// HasToken reports whether any header called header holds token in its
// comma-separated list, both compared ASCII case-insensitively ("Connection: keep-alive, Upgrade").
func (r *Request) HasToken(header, token string) bool {
	for i := range r.Headers {
		if equalFold(r.Headers[i].Name, header) && containsToken(r.Headers[i].Value, token) {
			return true
		}
	}
	return false
}

// Cookie returns the value of the first cookie called name (case-sensitive) in the
// Cookie headers ("a=1; b=2"), with surrounding double quotes stripped, and whether it
// was found. Values are not otherwise validated or decoded. The slice is valid as
// described on Request.
func (r *Request) Cookie(name string) ([]byte, bool) {
	for i := range r.Headers {
		if !equalFold(r.Headers[i].Name, strCookie) {
			continue
		}
		if v, ok := findCookie(r.Headers[i].Value, name); ok {
			return v, true
		}
	}
	return nil, false
}

func findCookie(s []byte, name string) ([]byte, bool) {
	for len(s) > 0 {
		var pair []byte
		pair, s, _ = cut(s, ';')
		k, v, ok := cut(pair, '=')
		if !ok || string(trimOWS(k)) != name {
			continue
		}
		v = trimOWS(v)
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		return v, true
	}
	return nil, false
}
