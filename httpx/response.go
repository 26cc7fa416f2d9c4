package httpx

import "strconv"

// The response writers append to dst and return the extended slice, like strconv's
// Append functions: they allocate only when dst lacks capacity. They are pure
// functions, safe for concurrent use.

// StatusText returns the reason phrase for code ("OK", "Not Found"), or "" for a code
// this package does not know.
func StatusText(code int) string {
	switch code {
	case 100:
		return "Continue"
	case 101:
		return "Switching Protocols"
	case 200:
		return "OK"
	case 201:
		return "Created"
	case 202:
		return "Accepted"
	case 204:
		return "No Content"
	case 206:
		return "Partial Content"
	case 301:
		return "Moved Permanently"
	case 302:
		return "Found"
	case 303:
		return "See Other"
	case 304:
		return "Not Modified"
	case 307:
		return "Temporary Redirect"
	case 308:
		return "Permanent Redirect"
	}
	return statusText4xx5xx(code)
}

func statusText4xx5xx(code int) string {
	switch code {
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 406:
		return "Not Acceptable"
	case 408:
		return "Request Timeout"
	case 409:
		return "Conflict"
	case 410:
		return "Gone"
	case 411:
		return "Length Required"
	case 413:
		return "Request Entity Too Large"
	case 414:
		return "Request URI Too Long"
	case 415:
		return "Unsupported Media Type"
	case 422:
		return "Unprocessable Entity"
	case 426:
		return "Upgrade Required"
	case 429:
		return "Too Many Requests"
	case 431:
		return "Request Header Fields Too Large"
	case 500:
		return "Internal Server Error"
	case 501:
		return "Not Implemented"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Gateway Timeout"
	case 505:
		return "HTTP Version Not Supported"
	}
	return ""
}

// AppendStatusLine appends "HTTP/1.1 <code> <reason>\r\n". An unknown code gets an
// empty reason phrase, which HTTP allows.
func AppendStatusLine(dst []byte, code int) []byte {
	dst = append(dst, strStatusLinePrefix...)
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, ' ')
	dst = append(dst, StatusText(code)...)
	return append(dst, strCRLF...)
}

// AppendHeader appends "name: value\r\n". CR and LF in value are replaced by spaces
// so a value can never inject a header; name is trusted (a constant, normally).
func AppendHeader(dst []byte, name, value string) []byte {
	dst = append(dst, name...)
	dst = append(dst, strColonSpace...)
	start := len(dst)
	dst = append(dst, value...)
	sanitizeValue(dst[start:])
	return append(dst, strCRLF...)
}

// AppendHeaderBytes is AppendHeader with a []byte value.
func AppendHeaderBytes(dst []byte, name string, value []byte) []byte {
	dst = append(dst, name...)
	dst = append(dst, strColonSpace...)
	start := len(dst)
	dst = append(dst, value...)
	sanitizeValue(dst[start:])
	return append(dst, strCRLF...)
}

// AppendHeaderInt appends "name: v\r\n" with v in decimal.
func AppendHeaderInt(dst []byte, name string, v int64) []byte {
	dst = append(dst, name...)
	dst = append(dst, strColonSpace...)
	dst = strconv.AppendInt(dst, v, 10)
	return append(dst, strCRLF...)
}

func sanitizeValue(b []byte) {
	for i, c := range b {
		if c == '\r' || c == '\n' {
			b[i] = ' '
		}
	}
}

// AppendResponse appends a complete response: the status line, Content-Type (omitted
// when contentType is ""), Content-Length, "Connection: close" when !keepAlive, the
// extra headers given as name/value pairs, the blank line and body.
//
// Responses that cannot have a body (1xx, 204, 304) get neither Content-Length nor
// body: body is ignored for them. It panics if len(extra) is odd.
func AppendResponse(dst []byte, code int, keepAlive bool, contentType string, body []byte, extra ...string) []byte {
	dst = appendHead(dst, code, keepAlive, contentType, len(body), extra)
	if bodyAllowed(code) {
		dst = append(dst, body...)
	}
	return dst
}

// AppendError appends a complete JSON error response with body exactly
// {"error":"<msg>"} (msg JSON-escaped) and Content-Type application/json; keepAlive
// and extra are as for AppendResponse.
func AppendError(dst []byte, code int, keepAlive bool, msg string, extra ...string) []byte {
	n := len(strErrorBodyPrefix) + jsonStringLen(msg) + len(strErrorBodySuffix)
	dst = appendHead(dst, code, keepAlive, strJSONContentType, n, extra)
	if bodyAllowed(code) {
		dst = append(dst, strErrorBodyPrefix...)
		dst = AppendJSONString(dst, msg)
		dst = append(dst, strErrorBodySuffix...)
	}
	return dst
}

func bodyAllowed(code int) bool {
	return code >= 200 && code != 204 && code != 304
}

// appendHead appends everything up to and including the blank line.
func appendHead(dst []byte, code int, keepAlive bool, contentType string, bodyLen int, extra []string) []byte {
	if len(extra)%2 != 0 {
		panic("httpx: extra headers must be name/value pairs")
	}
	dst = AppendStatusLine(dst, code)
	if contentType != "" {
		dst = AppendHeader(dst, strContentType, contentType)
	}
	if bodyAllowed(code) {
		dst = AppendHeaderInt(dst, strContentLength, int64(bodyLen))
	}
	if !keepAlive {
		dst = append(dst, strConnectionClose...)
	}
	for i := 0; i < len(extra); i += 2 {
		dst = AppendHeader(dst, extra[i], extra[i+1])
	}
	return append(dst, strCRLF...)
}
