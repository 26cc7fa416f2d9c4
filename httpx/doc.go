// Package httpx is the minimal HTTP/1.1 request parser and response writer of the
// realtime server, which runs on an epoll reactor and keeps net/http off its hot path.
//
// Data flow: the connection's input bytes go to Request.Parse, which reports how many
// bytes one complete request used, or ErrNeedMore (keep the bytes, read more, call
// again with all of them), or an *Error carrying the status to answer with before
// closing. Parsed values are slices into the caller's buffer, or into the Request's
// own scratch for decoded ones, valid until the next Parse or Reset on that Request.
//
// Ownership: a Request belongs to one goroutine at a time (the connection's loop); it
// is pooled and reused, and a warm Request parses, looks up headers, query parameters
// and cookies without allocating. The Append* response writers are pure functions
// that append to a caller-owned buffer and are safe for concurrent use.
//
// Only Content-Length bodies are supported: Transfer-Encoding: chunked is answered
// with 411 Length Required, any other Transfer-Encoding with 400.
package httpx
