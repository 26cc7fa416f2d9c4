package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
)

// testProfile builds a CPU profile: main -> a -> b (b has a inlined c).
func testProfile(t *testing.T) []byte {
	t.Helper()
	fn := func(id uint64, name string) *profile.Function { return &profile.Function{ID: id, Name: name} }
	fMain, fA, fB, fC := fn(1, "main"), fn(2, "a"), fn(3, "b"), fn(4, "c")
	loc := func(id uint64, fs ...*profile.Function) *profile.Location {
		l := &profile.Location{ID: id}
		for _, f := range fs {
			l.Line = append(l.Line, profile.Line{Function: f})
		}
		return l
	}
	lMain, lA, lBC := loc(1, fMain), loc(2, fA), loc(3, fC, fB) // c inlined into b: c first
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		Function:   []*profile.Function{fMain, fA, fB, fC},
		Location:   []*profile.Location{lMain, lA, lBC},
		Sample: []*profile.Sample{
			{Location: []*profile.Location{lBC, lA, lMain}, Value: []int64{3, 30}},
			{Location: []*profile.Location{lA, lMain}, Value: []int64{1, 10}},
			{Location: []*profile.Location{lMain}, Value: []int64{5, 50}},
		},
	}
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSummarizeProfile(t *testing.T) {
	s, err := SummarizeProfile(testProfile(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []FuncCost{{"main", 50, 90}, {"c", 30, 30}, {"a", 10, 40}, {"b", 0, 30}}
	if s.Total != 90 || len(s.Funcs) != len(want) {
		t.Fatalf("summary %+v", s)
	}
	for i, w := range want {
		if s.Funcs[i] != w {
			t.Errorf("row %d: %+v, want %+v", i, s.Funcs[i], w)
		}
	}
	if s.ByCum()[1].Name != "a" {
		t.Errorf("by cum: %+v", s.ByCum())
	}
	var out strings.Builder
	s.WriteTop(&out, 2)
	if !strings.Contains(out.String(), "| 0ms | 55.6% | 0ms | 100.0% | `main` |") || strings.Contains(out.String(), "`a`") {
		t.Errorf("table:\n%s", out.String())
	}
}

func TestSummarizeProfileRejectsGarbage(t *testing.T) {
	if _, err := SummarizeProfile([]byte("not a profile")); err == nil {
		t.Fatal("garbage parsed")
	}
}
