package load

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// Metric is one named figure of a scenario run.
type Metric struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit,omitempty"`
}

// MarshalJSON writes a missing figure (NaN) as null.
func (m Metric) MarshalJSON() ([]byte, error) {
	w := struct {
		Name  string   `json:"name"`
		Value *float64 `json:"value"`
		Unit  string   `json:"unit,omitempty"`
	}{Name: m.Name, Unit: m.Unit}
	if !math.IsNaN(m.Value) && !math.IsInf(m.Value, 0) {
		w.Value = &m.Value
	}
	return json.Marshal(w)
}

// Result is one scenario run against one target: its figures in print
// order, notes (failures, odd observations) and scenario details. Failed
// marks a run whose own pass/fail judgement failed (the soak's verdict):
// the tool then exits 1 after printing.
type Result struct {
	Scenario string   `json:"scenario"`
	Target   string   `json:"target"`
	Metrics  []Metric `json:"metrics"`
	Notes    []string `json:"notes,omitempty"`
	Failed   bool     `json:"failed,omitempty"`
	Details  any      `json:"details,omitempty"`
}

// Add appends a metric.
func (r *Result) Add(name string, v float64, unit string) {
	r.Metrics = append(r.Metrics, Metric{Name: name, Value: v, Unit: unit})
}

// Notef appends a note.
func (r *Result) Notef(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// Value returns the named metric (NaN when absent).
func (r *Result) Value(name string) float64 {
	for _, m := range r.Metrics {
		if m.Name == name {
			return m.Value
		}
	}
	return math.NaN()
}

// Median returns the median of vs (NaN values ignored; NaN when none).
func Median(vs []float64) float64 {
	var s []float64
	for _, v := range vs {
		if !math.IsNaN(v) {
			s = append(s, v)
		}
	}
	if len(s) == 0 {
		return math.NaN()
	}
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// MedianResult folds runs of one scenario on one target into a result
// whose every metric is the median over the runs; notes are kept.
func MedianResult(runs []*Result) *Result {
	if len(runs) == 0 {
		return nil
	}
	out := &Result{Scenario: runs[0].Scenario, Target: runs[0].Target}
	for _, m := range runs[0].Metrics {
		vs := make([]float64, len(runs))
		for i, r := range runs {
			vs[i] = r.Value(m.Name)
		}
		out.Add(m.Name, Median(vs), m.Unit)
	}
	every := notesOfEveryRun(runs)
	for _, n := range runs[0].Notes {
		if every[n] {
			out.Notef("%s", n)
		}
	}
	for i, r := range runs {
		for _, n := range r.Notes {
			if !every[n] {
				out.Notef("run %d: %s", i+1, n)
			}
		}
		out.Failed = out.Failed || r.Failed
	}
	return out
}

// notesOfEveryRun returns the notes every run has (said once, not per run).
func notesOfEveryRun(runs []*Result) map[string]bool {
	count := map[string]int{}
	for _, r := range runs {
		seen := map[string]bool{}
		for _, n := range r.Notes {
			if !seen[n] {
				seen[n] = true
				count[n]++
			}
		}
	}
	every := map[string]bool{}
	for n, c := range count {
		every[n] = c == len(runs)
	}
	return every
}

// PrintTable writes results side by side (one column per target) and,
// with exactly two targets, the ratio first/second.
func PrintTable(w io.Writer, title string, rs []*Result) {
	if len(rs) == 0 {
		return
	}
	fmt.Fprintf(w, "\n== %s\n", title)
	head := []string{"metric"}
	for _, r := range rs {
		head = append(head, r.Target)
	}
	if len(rs) == 2 {
		head = append(head, rs[0].Target+"/"+rs[1].Target)
	}
	rows := [][]string{head}
	for _, m := range rs[0].Metrics {
		row := []string{m.Name + unitSuffix(m.Unit)}
		for _, r := range rs {
			row = append(row, FormatValue(r.Value(m.Name)))
		}
		if len(rs) == 2 {
			row = append(row, ratio(rs[0].Value(m.Name), rs[1].Value(m.Name)))
		}
		rows = append(rows, row)
	}
	writeAligned(w, rows)
	for _, r := range rs {
		for _, n := range r.Notes {
			fmt.Fprintf(w, "  note (%s): %s\n", r.Target, n)
		}
	}
}

func unitSuffix(u string) string {
	if u == "" {
		return ""
	}
	return " (" + u + ")"
}

func ratio(a, b float64) string {
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f", a/b)
}

// FormatValue prints a figure with precision that suits its size.
func FormatValue(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return "-"
	case v == math.Trunc(v) && a < 1e12:
		return fmt.Sprintf("%.0f", v)
	case a >= 100:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.4f", v)
	}
}

// PrintRows writes a titled table whose first row is the header, columns
// aligned as PrintTable aligns them.
func PrintRows(w io.Writer, title string, rows [][]string) {
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "\n== %s\n", title)
	writeAligned(w, rows)
}

func writeAligned(w io.Writer, rows [][]string) {
	width := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, c := range row {
			width[i] = max(width[i], len(c))
		}
	}
	for _, row := range rows {
		var b strings.Builder
		for i, c := range row {
			if i == 0 {
				fmt.Fprintf(&b, "  %-*s", width[i], c)
			} else {
				fmt.Fprintf(&b, "  %*s", width[i], c)
			}
		}
		fmt.Fprintln(w, b.String())
	}
}

func nan() float64 { return math.NaN() }
