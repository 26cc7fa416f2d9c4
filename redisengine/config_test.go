package redisengine

import (
	"strings"
	"testing"
)

// TestParseURL: the schemes of --redis, and what they refuse.
func TestParseURL(t *testing.T) {
	for raw, want := range map[string]string{
		"redis://127.0.0.1:6379/0":   "127.0.0.1:6379 false",
		"redis://:pw@h:1":            "h:1 false",
		"redis-cluster://h1:1,h2:2":  "h1:1,h2:2 true",
		"redis-cluster://u:pw@h1:1":  "h1:1 true",
		"redis://h:1/0?master_set=m": "error",
		"rediss://h:1":               "error",
		"redis://":                   "error",
		"redis-cluster://":           "error",
	} {
		addrs, cluster, err := parseURL(raw)
		got := "error"
		if err == nil {
			got = strings.Join(addrs, ",") + " " + map[bool]string{true: "true", false: "false"}[cluster]
		}
		if got != want {
			t.Errorf("parseURL(%q) = %s, want %s", raw, got, want)
		}
	}
}

// TestRedactedHidesThePassword: logs never carry a Redis password.
func TestRedactedHidesThePassword(t *testing.T) {
	for _, raw := range []string{"redis://:s3cret@h:1/0", "redis-cluster://user:s3cret@h1:1,h2:2"} {
		if r := Redacted(raw); strings.Contains(r, "s3cret") || !strings.Contains(r, "h") {
			t.Errorf("Redacted(%q) = %q", raw, r)
		}
	}
}
