package main

import (
	"bytes"
	"fmt"
	"io"
	"sort"

	"github.com/google/pprof/profile"
)

// FuncCost is one function's share of a CPU profile.
type FuncCost struct {
	Name      string
	Flat, Cum int64 // nanoseconds on CPU: in the function itself / with its callees
}

// ProfileSummary is a CPU profile aggregated by function.
type ProfileSummary struct {
	Total int64 // nanoseconds of all samples
	Funcs []FuncCost
}

// SummarizeProfile parses a pprof CPU profile (gzipped or not) and
// aggregates its samples by function: flat time goes to the innermost
// frame (inlined frames count as functions of their own, as pprof shows
// them), cumulative time to every function on the stack once.
func SummarizeProfile(data []byte) (*ProfileSummary, error) {
	p, err := profile.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	vi := valueIndex(p)
	flat, cum := map[string]int64{}, map[string]int64{}
	s := &ProfileSummary{}
	for _, smp := range p.Sample {
		v := smp.Value[vi]
		s.Total += v
		seen := map[string]bool{}
		for i, loc := range smp.Location {
			for j, line := range loc.Line {
				name := funcName(line)
				if i == 0 && j == 0 {
					flat[name] += v
				}
				if !seen[name] {
					seen[name] = true
					cum[name] += v
				}
			}
		}
	}
	for name, c := range cum {
		s.Funcs = append(s.Funcs, FuncCost{Name: name, Flat: flat[name], Cum: c})
	}
	sort.Slice(s.Funcs, func(i, j int) bool {
		a, b := s.Funcs[i], s.Funcs[j]
		if a.Flat != b.Flat {
			return a.Flat > b.Flat
		}
		if a.Cum != b.Cum {
			return a.Cum > b.Cum
		}
		return a.Name < b.Name
	})
	return s, nil
}

// valueIndex picks the CPU-time sample value ("cpu"/"nanoseconds"), else
// the last one.
func valueIndex(p *profile.Profile) int {
	for i, st := range p.SampleType {
		if st.Type == "cpu" {
			return i
		}
	}
	return len(p.SampleType) - 1
}

func funcName(l profile.Line) string {
	if l.Function == nil || l.Function.Name == "" {
		return "?"
	}
	return l.Function.Name
}

// ByCum returns the functions sorted by cumulative time.
func (s *ProfileSummary) ByCum() []FuncCost {
	out := append([]FuncCost(nil), s.Funcs...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Cum > out[j].Cum })
	return out
}

// WriteTop writes the top n functions by flat time as a Markdown table
// (pprof -top's columns).
func (s *ProfileSummary) WriteTop(w io.Writer, n int) {
	fmt.Fprintf(w, "| flat | flat%% | cum | cum%% | function |\n|---:|---:|---:|---:|---|\n")
	for i, f := range s.Funcs {
		if i == n {
			break
		}
		fmt.Fprintf(w, "| %s | %.1f%% | %s | %.1f%% | `%s` |\n", ms(f.Flat), pct(f.Flat, s.Total), ms(f.Cum), pct(f.Cum, s.Total), f.Name)
	}
	fmt.Fprintf(w, "\nTotal samples: %s.\n", ms(s.Total))
}

func ms(ns int64) string { return fmt.Sprintf("%.0fms", float64(ns)/1e6) }

func pct(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}
