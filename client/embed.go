// Package client embeds the JavaScript client (realtime.js) so that the
// server can serve it at /realtime.js.
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

// ETag is a strong entity tag of Script.
var ETag = func() string {
	sum := sha256.Sum256(Script)
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}()
