package load

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"sync"
	"time"
)

// BadParams shapes a bad-input run: a fan-out (Subscribers x Events at
// Rate) with Attackers goroutines per kind of malformed request hammering
// the server meanwhile.
type BadParams struct {
	Subscribers int
	Events      int
	Rate        float64
	Attackers   int
}

// badKinds are the malformed requests, each a function that sends one and
// returns what came back ("400", "closed", ...).
var badKinds = map[string]func(t *Target, channel string) string{
	"garbage":      badGarbage,
	"huge-header":  badHugeHeader,
	"huge-body":    badHugeBody,
	"invalid-json": badJSON,
	"bad-channel":  badChannel,
	"no-length":    badNoLength,
	"slowloris":    badSlowloris,
}

// BadInput runs the fan-out twice, without and then with the attackers,
// and reports the good subscribers' delivery and latency side by side and
// what each attack got back.
func BadInput(env *Env, t *Target, p BadParams) (*Result, error) {
	env.logf("%s: badinput: fanout %d x %d with %d attackers per kind", t.Name, p.Subscribers, p.Events, p.Attackers)
	base, _, err := badPhase(env, t, p, false)
	if err != nil {
		return nil, err
	}
	rep, outcomes, err := badPhase(env, t, p, true)
	if err != nil {
		return nil, err
	}
	res := &Result{Scenario: "badinput", Target: t.Name, Details: outcomes}
	bl, l := base.Lat.Summarize(), rep.Lat.Summarize()
	res.Add("subscribers", float64(rep.Checks.Subscribers), "")
	res.Add("p50 without attack", bl.P50, "ms")
	res.Add("p50 under attack", l.P50, "ms")
	res.Add("p99 without attack", bl.P99, "ms")
	res.Add("p99 under attack", l.P99, "ms")
	res.Add("max under attack", l.Max, "ms")
	res.Add("missing under attack", float64(rep.Checks.Missing), "")
	res.Add("duplicated under attack", float64(rep.Checks.Duplicated), "")
	res.Add("streams ended by server", float64(rep.Disconnects+base.Disconnects), "")
	for _, kind := range sortedKeys(outcomes) {
		res.Notef("%-12s %s", kind, formatCounts(outcomes[kind]))
	}
	return res, nil
}

// badPhase runs one fan-out to fresh subscribers, with the attackers
// running meanwhile when attack is set.
func badPhase(env *Env, t *Target, p BadParams, attack bool) (*WorkerReport, map[string]map[string]int, error) {
	channel := "bad-" + randomHex(4)
	g, err := OpenGroup(env, OpenSpec{Target: *t, Channels: []string{channel}, N: p.Subscribers, Mode: ModeRead, Events: p.Events})
	if err != nil {
		return nil, nil, err
	}
	defer g.Close()
	stop := make(chan struct{})
	outcomes := map[string]map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for kind, fn := range badKinds {
		outcomes[kind] = map[string]int{}
		for range p.Attackers * btoi(attack) {
			wg.Go(func() { runAttack(t, channel, fn, stop, &mu, outcomes[kind]) })
		}
	}
	_, perr := PublishSeq(t, PublishPlan{Channel: channel, Events: p.Events, Rate: p.Rate})
	rep, cerr := g.Collect(CollectSpec{Events: p.Events, QuietMs: 5000, TimeoutMs: 120_000})
	close(stop)
	wg.Wait()
	return rep, outcomes, errors.Join(perr, cerr)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// runAttack repeats one kind of bad request until stop is closed.
func runAttack(t *Target, channel string, fn func(*Target, string) string, stop chan struct{}, mu *sync.Mutex, out map[string]int) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		r := fn(t, channel)
		mu.Lock()
		out[r]++
		mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
}

// exchange sends req on a new connection (optionally more after a pause)
// and returns the status of the answer or how the connection ended.
func exchange(t *Target, req []byte, timeout time.Duration) string {
	c, err := Dial(t.Addr, DialOptions{})
	if err != nil {
		return "dial error"
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write(req); err != nil {
		return "write refused"
	}
	return answer(c)
}

// answer reads the status of one response from c.
func answer(c net.Conn) string {
	st, _, err := ReadResponse(bufio.NewReader(c), true)
	var ne net.Error
	switch {
	case st > 0:
		return fmt.Sprint(st)
	case errors.As(err, &ne) && ne.Timeout():
		return "no answer"
	case errors.Is(err, io.EOF), err != nil:
		return "closed"
	}
	return "?"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func formatCounts(m map[string]int) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s x%d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
