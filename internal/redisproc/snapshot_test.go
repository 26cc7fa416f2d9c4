package redisproc

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRestartFromOlderSnapshot(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{Persist: true})
	mustDo(t, s, "SET", "a", "1")
	mustDo(t, s, "XADD", "st", "1-1", "f", "v")
	old, err := s.Save()
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(old) != s.Dir() {
		t.Errorf("snapshot %s is not in the server's dir %s", old, s.Dir())
	}
	mustDo(t, s, "SET", "a", "2")
	mustDo(t, s, "SET", "b", "1")
	mustDo(t, s, "XADD", "st", "2-1", "f", "v")
	newer, err := s.Save()
	if err != nil || newer == old {
		t.Fatalf("second Save = %q, %v (first %q)", newer, err, old)
	}
	if err := s.RestartFrom(old); err != nil {
		t.Fatal(err)
	}
	wantGet(t, s, "a", "1")
	wantNil(t, s, "b")
	if got := mustDo(t, s, "XLEN", "st"); got != "1" {
		t.Errorf("XLEN st = %s after restoring the older snapshot, want 1", got)
	}
	if err := s.RestartFrom(newer); err != nil {
		t.Fatal(err)
	}
	wantGet(t, s, "a", "2")
	wantGet(t, s, "b", "1")
	if err := s.RestartFrom(filepath.Join(s.Dir(), "missing.rdb")); err == nil {
		t.Error("RestartFrom a missing file succeeded")
	}
	mustDo(t, s, "PING")
}

func TestPersistRestartLoadsLastSave(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{Persist: true})
	mustDo(t, s, "SET", "saved", "1")
	if _, err := s.Save(); err != nil {
		t.Fatal(err)
	}
	mustDo(t, s, "SET", "unsaved", "1")
	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	wantGet(t, s, "saved", "1")
	wantNil(t, s, "unsaved")
	mustDo(t, s, "SET", "unsaved", "1")
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	wantNil(t, s, "unsaved")
}

func TestNoPersistStartsEmptyAfterSave(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{})
	mustDo(t, s, "SET", "k", "v")
	snap, err := s.Save()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	wantNil(t, s, "k")
	if err := s.RestartFrom(snap); err != nil {
		t.Fatal(err)
	}
	wantGet(t, s, "k", "v")
	if _, err := os.Stat(snap); err != nil {
		t.Errorf("snapshot gone after RestartFrom: %v", err)
	}
}
