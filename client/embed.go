// Package client embeds the JavaScript client (realtime.js) so that the
// server can serve it at /realtime.js, and the demo page (demo.html) that
// the server serves at /demo and /.
package client

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
)

// Script is realtime.js, the ESM client module.
//
//go:embed realtime.js
var Script []byte

// DemoPage is demo.html: a self-contained page (inline CSS and script, no
// external resources) that imports /realtime.js, subscribes to a channel,
// publishes to it and shows reconnects and realtime.reset events.
//
//go:embed demo.html
var DemoPage []byte

// ETag is a strong entity tag of Script.
var ETag = func() string {
	sum := sha256.Sum256(Script)
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}()
