package load

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// RevokeParams shapes a revoke run (SPEC 3.9): Streams streams opened with
// tokens of one principal (plain GET /sse/{ch} streams spread over
// Channels, or with K > 0 multiplexed streams of K channels of that pool),
// Bystanders streams of another principal on the same channels, dealt to
// Nodes nodes round-robin (on a Redis when Redis is "single" or
// "cluster"); then POST /disconnect {"principal":...} to the first node.
// Every stream of the principal must get exactly one realtime.closed
// frame per channel, reason "revoked", then the end of its connection;
// the answer must count every (stream, channel) pair; no bystander may be
// touched.
type RevokeParams struct {
	Streams    int
	Channels   int
	K          int
	Bystanders int
	Nodes      int
	Redis      string        // "", "single" or "cluster"
	Settle     time.Duration // wait after the streams opened
	Wait       time.Duration // longest wait for the streams to end after the POST; 0: 1 min
	Seed       uint64
	Profile    time.Duration // CPU profile of node 1 this long from just before the POST; 0: none
	Bin        string
	LogDir     string
	ServerArgs []string // every node's extra flags (win over the run's own)
}

// Validate reports parameters the run cannot honour.
func (p RevokeParams) Validate() error {
	switch {
	case p.Streams < 1 || p.Channels < 1 || p.Nodes < 1 || p.Bystanders < 0 || p.K < 0:
		return errors.New("load: revoke needs -n, -channels and --nodes of at least 1")
	case p.K > p.Channels:
		return fmt.Errorf("load: -k %d: more than the pool of -channels %d", p.K, p.Channels)
	case p.Nodes > 1 && p.Redis == "":
		return errors.New("load: several nodes share their streams only on a Redis: add --with-redis single (or cluster)")
	case p.Redis != "" && p.Redis != "single" && p.Redis != "cluster":
		return fmt.Errorf("load: --with-redis %q: want single or cluster", p.Redis)
	}
	return nil
}

// Name labels the run's column: "memory:1", "redis:N" or "cluster:N".
func (p RevokeParams) Name() string {
	switch p.Redis {
	case "single":
		return "redis:" + strconv.Itoa(p.Nodes)
	case "cluster":
		return "cluster:" + strconv.Itoa(p.Nodes)
	}
	return "memory:1"
}

// RevokeOutcome holds the raw figures of a revoke run.
type RevokeOutcome struct {
	Principal        string        `json:"principal"`
	Opened           int           `json:"opened"`
	BystandersOpened int           `json:"bystanders_opened"`
	Status           int           `json:"status"`
	Body             string        `json:"body"`
	Closed           int           `json:"closed"`          // the answer's count
	ExpectedClosed   int           `json:"expected_closed"` // (stream, channel) pairs of the principal
	Answer           time.Duration `json:"answer_ns"`       // from writing the POST to reading its answer
	Ping             Summary       `json:"ping"`            // publish to delivery of one event per channel, before the revocation
	PresenceBefore   int           `json:"presence_before"` // the principal's streams in presence, summed over the channels; -1: not asked
	PresenceAfter    int           `json:"presence_after"`  // the same a second after the POST
	Report           *WorkerReport `json:"report"`          // the principal's streams
	Bystanders       *WorkerReport `json:"bystanders"`
	NodesCPU         time.Duration `json:"nodes_cpu_ns"` // from the POST until every stream ended
	RedisCPU         time.Duration `json:"redis_cpu_ns"`
	Profile          []byte        `json:"-"`
}

// presenceLimit bounds the channels whose presence the run asks for.
const presenceLimit = 64

// Revoke starts Redis (if asked) and the nodes, runs the scenario and ends
// every process it started, by PID.
func Revoke(env *Env, p RevokeParams) (*Result, *RevokeOutcome, error) {
	if err := p.Validate(); err != nil {
		return nil, nil, err
	}
	if p.Wait <= 0 {
		p.Wait = time.Minute
	}
	secret := randomHex(16)
	url := ""
	var redis *Redis
	if p.Redis != "" {
		var err error
		if redis, err = StartRedis(p.Redis == "cluster", p.LogDir); err != nil {
			return nil, nil, err
		}
		defer func() {
			if err := redis.Stop(); err != nil {
				env.logf("revoke: stop redis: %v", err)
			}
		}()
		url = redis.URL()
	}
	args := append([]string{"--max-subscribers-per-channel", strconv.Itoa(max(p.Streams+p.Bystanders+100, 20000))}, p.ServerArgs...)
	nodes, err := StartNodes(NodesOptions{Bin: p.Bin, LogDir: p.LogDir, N: p.Nodes, Redis: url, Args: args, Secret: secret})
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if err := StopNodes(nodes); err != nil {
			env.logf("revoke: stop nodes: %v", err)
		}
	}()
	out := &RevokeOutcome{Principal: "revoke-" + randomHex(4), PresenceBefore: -1, PresenceAfter: -1}
	run := &revokeRun{env: env, p: p, nodes: nodes, out: out}
	if err := run.open(secret); err != nil {
		return nil, nil, err
	}
	defer run.close()
	slots, redisSlot := nodeSlots(nodes, redis)
	if err := run.revoke(slots, redisSlot); err != nil {
		return nil, nil, err
	}
	res := &Result{Scenario: "revoke", Target: p.Name(), Details: out}
	revokeMetrics(res, out, p)
	if redis != nil {
		res.Notef("every node runs with --redis on a %s started for the round; the POST goes to node 1, the other nodes answer it over Redis", redis.Name())
	}
	return res, out, nil
}

// revokeRun is one run of the revoke scenario.
type revokeRun struct {
	env     *Env
	p       RevokeParams
	nodes   []*Server
	out     *RevokeOutcome
	pool    []string
	victims *Group
	others  *Group
}

// open mints the two principals' tokens and opens their streams.
func (r *revokeRun) open(secret string) error {
	p := r.p
	vtok, err := MintToken(p.Bin, secret, r.out.Principal)
	if err != nil {
		return err
	}
	btok, err := MintToken(p.Bin, secret, r.out.Principal+"-bystander")
	if err != nil {
		return err
	}
	tag := randomHex(4)
	r.pool = make([]string, p.Channels)
	for i := range r.pool {
		r.pool[i] = fmt.Sprintf("revoke-%s-%d", tag, i)
	}
	var sets [][]int
	if p.K > 0 {
		sets = MultiplexParams{Streams: p.Streams, K: p.K, Channels: p.Channels, Seed: p.Seed}.MuxSets()
	} else {
		sets = roundRobinSets(p.Streams, p.Channels)
	}
	r.out.ExpectedClosed = p.Streams * max(p.K, 1)
	r.env.logf("%s: revoke %d streams (%d bystanders) over %d nodes", p.Name(), p.Streams, p.Bystanders, len(r.nodes))
	if r.victims, err = r.group(vtok, sets); err != nil {
		return err
	}
	r.out.Opened = r.victims.Opened
	if r.victims.Failed > 0 {
		return fmt.Errorf("load: %d of %d streams failed to open: %v", r.victims.Failed, p.Streams, r.victims.Errors)
	}
	if p.Bystanders > 0 {
		if r.others, err = r.group(btok, roundRobinSets(p.Bystanders, p.Channels)); err != nil {
			return err
		}
		r.out.BystandersOpened = r.others.Opened
	}
	time.Sleep(p.Settle)
	return r.ping()
}

// ping publishes one event on each channel and waits until every stream
// has it: the streams are live, and the time to the last delivery of an
// event is the yardstick of the time to the last end.
func (r *revokeRun) ping() error {
	order := make([]int, len(r.pool))
	for i := range order {
		order[i] = i
	}
	st, _, err := PublishOrder(&r.nodes[0].Target, OrderPlan{Pool: r.pool, Order: order, Window: len(order)})
	if err != nil {
		return fmt.Errorf("load: publish: %w", err)
	}
	if st.OK != len(order) {
		return fmt.Errorf("load: publish answers %v", st.Statuses)
	}
	rep, err := r.victims.Collect(CollectSpec{TimeoutMs: 30_000})
	if err != nil {
		return err
	}
	if rep.Done != r.out.Opened {
		return fmt.Errorf("load: %d of %d streams got the warm-up event", rep.Done, r.out.Opened)
	}
	r.out.Ping = rep.Lat.Summarize()
	return nil
}

// group opens streams with token over the nodes, subscriber i on
// Pool[sets[i]...].
func (r *revokeRun) group(token string, sets [][]int) (*Group, error) {
	t := r.nodes[0].Target
	t.Token = token
	var addrs []string
	if len(r.nodes) > 1 {
		for _, n := range r.nodes {
			addrs = append(addrs, n.Target.Addr)
		}
	}
	expect := map[string]int{}
	for _, ch := range r.pool {
		expect[ch] = 1 // the event of warm-up (revokeRun.ping)
	}
	m := MuxSpec{Pool: r.pool, Expect: expect, Single: r.p.K == 0, Reason: "revoked"}
	spec := OpenSpec{Target: t, N: len(sets), Mode: ModeMux, Addrs: addrs, Mux: &m}
	return openGroup(r.env, spec, func(s *OpenSpec) {
		mm := m
		mm.Sets = sets[s.First : s.First+s.N]
		s.Mux = &mm
	})
}

// revoke posts the disconnect and waits for every stream to end.
func (r *revokeRun) revoke(slots []*cpuSlot, redisSlot *cpuSlot) error {
	pub := &r.nodes[0].Target
	r.out.PresenceBefore = r.presence(pub)
	for _, s := range slots {
		s.begin()
	}
	if redisSlot != nil {
		redisSlot.begin()
	}
	conn, err := DialPublisher(pub)
	if err != nil {
		return err
	}
	defer conn.Close()
	prof := startProfile(pub, r.p.Profile)
	if prof != nil {
		time.Sleep(100 * time.Millisecond) // the profile has started
	}
	body, _ := json.Marshal(map[string]string{"principal": r.out.Principal})
	req := fmt.Appendf(nil, "POST /disconnect HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n%s",
		pub.Addr, pub.Token, len(body), body)
	_ = conn.SendRaw(req)
	t0 := Mono()
	if err := conn.Flush(); err != nil {
		return err
	}
	_ = conn.conn.SetReadDeadline(time.Now().Add(r.p.Wait))
	status, answer, err := ReadResponse(conn.r, false)
	r.out.Answer = time.Duration(Mono() - t0)
	if err != nil {
		return fmt.Errorf("load: POST /disconnect: %w", err)
	}
	r.out.Status, r.out.Body = status, string(answer)
	if n, ok := intMember(answer, `"closed":`); ok {
		r.out.Closed = int(n)
	}
	r.out.Report, err = r.victims.Collect(CollectSpec{UntilEnded: true, TimeoutMs: int(r.p.Wait / time.Millisecond), Since: t0})
	if err != nil {
		return err
	}
	for _, s := range slots {
		r.out.NodesCPU += s.used()
	}
	if redisSlot != nil {
		r.out.RedisCPU = redisSlot.used()
	}
	// A wrongful close would have reached the bystanders by now; presence
	// drops closed streams within a second (SPEC 3.9).
	time.Sleep(time.Second)
	if r.others != nil {
		if r.out.Bystanders, err = r.others.Collect(CollectSpec{}); err != nil {
			return err
		}
	}
	r.out.PresenceAfter = r.presence(pub)
	r.out.Profile = prof.wait(r.env)
	return nil
}

// presence sums the principal's streams over the pool's channels
// (GET /channels/{ch}/presence); -1 when the pool is too large to ask or a
// request failed.
func (r *revokeRun) presence(t *Target) int {
	if len(r.pool) > presenceLimit {
		return -1
	}
	total := 0
	for _, ch := range r.pool {
		status, body, err := authGet(t, "/channels/"+url.PathEscape(ch)+"/presence")
		if err != nil || status != 200 {
			return -1
		}
		var v struct {
			Principals []struct {
				Principal string `json:"principal"`
				Streams   int    `json:"streams"`
			} `json:"principals"`
		}
		if json.Unmarshal(body, &v) != nil {
			return -1
		}
		for _, x := range v.Principals {
			if x.Principal == r.out.Principal {
				total += x.Streams
			}
		}
	}
	return total
}

func (r *revokeRun) close() {
	for _, g := range []*Group{r.victims, r.others} {
		if g != nil {
			g.Close()
		}
	}
}

// roundRobinSets returns n sets of one channel each: i % channels.
func roundRobinSets(n, channels int) [][]int {
	flat := make([]int, n)
	sets := make([][]int, n)
	for i := range sets {
		flat[i] = i % channels
		sets[i] = flat[i : i+1 : i+1]
	}
	return sets
}

// authGet GETs path from t with its bearer token.
func authGet(t *Target, path string) (int, []byte, error) {
	c, err := Dial(t.Addr, DialOptions{})
	if err != nil {
		return 0, nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	req := fmt.Appendf(nil, "GET %s HTTP/1.1\r\nHost: %s\r\n", path, t.Addr)
	req = append(t.appendAuth(req), "\r\n"...)
	if _, err := c.Write(req); err != nil {
		return 0, nil, err
	}
	return ReadResponse(bufio.NewReader(c), false)
}

// MintToken asks the realtime binary for a subscriber token of principal
// sub for every channel, signed with secret, valid for 6 hours.
func MintToken(bin, secret, sub string) (string, error) {
	out, err := exec.Command(bin, "token", "--jwt-secret", secret, "--sub", sub, "--channels", "*", "--ttl", "6h").Output()
	if err != nil {
		return "", fmt.Errorf("load: realtime token: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

func revokeMetrics(res *Result, o *RevokeOutcome, p RevokeParams) {
	rep := o.Report
	ms := MuxReport{}
	if rep.Mux != nil {
		ms = *rep.Mux
	}
	ms2 := MuxStats{}
	if o.Bystanders != nil && o.Bystanders.Mux != nil {
		ms2 = o.Bystanders.Mux.MuxStats
	}
	ms3 := func(d time.Duration) float64 { return float64(d) / 1e6 }
	closedAt, endedAt := ms.ClosedAt.Summarize(), ms.EndedAt.Summarize()
	good := min(ms.FullyClosed, ms.EOFClosed) // every stream that got its closed frames and then its end
	res.Add("streams", float64(o.Opened), "")
	res.Add("channels per stream", float64(max(p.K, 1)), "")
	res.Add("bystander streams", float64(o.BystandersOpened), "")
	res.Add("answer status", float64(o.Status), "")
	res.Add("closed (answer)", float64(o.Closed), "")
	res.Add("closed expected", float64(o.ExpectedClosed), "")
	res.Add("one event: publish to delivery p50", o.Ping.P50, "ms")
	res.Add("one event: publish to last delivery", o.Ping.Max, "ms")
	res.Add("POST to answer", ms3(o.Answer), "ms")
	res.Add("POST to closed frame p50", closedAt.P50, "ms")
	res.Add("POST to closed frame p99", closedAt.P99, "ms")
	res.Add("POST to EOF p50", endedAt.P50, "ms")
	res.Add("POST to EOF p99", endedAt.P99, "ms")
	res.Add("POST to last EOF", endedAt.Max, "ms")
	res.Add("streams closed then EOF", float64(good), "")
	res.Add("streams without their closed frames", float64(o.Opened-ms.FullyClosed), "")
	res.Add("streams still open", float64(ms.StillOpen), "")
	res.Add("bad closed frames", float64(ms.ClosedBad), "")
	res.Add("frames after closed", float64(ms.AfterClosed), "")
	res.Add("bystanders closed or ended", float64(ms2.Closed+ms2.EOFClosed+ms2.EOFOther), "")
	res.Add("presence before", nanIfNeg(o.PresenceBefore), "")
	res.Add("presence after 1 s", nanIfNeg(o.PresenceAfter), "")
	res.Add("nodes CPU over the revocation", ms3(o.NodesCPU), "ms")
	if p.Redis != "" {
		res.Add("Redis CPU over the revocation", ms3(o.RedisCPU), "ms")
	}
	var bad []string
	if o.Status != 200 {
		bad = append(bad, fmt.Sprintf("answer %d %s", o.Status, o.Body))
	}
	if o.Closed != o.ExpectedClosed {
		bad = append(bad, fmt.Sprintf("closed %d, expected %d", o.Closed, o.ExpectedClosed))
	}
	if good != o.Opened || ms.Closed != o.ExpectedClosed || ms.ClosedBad+ms.AfterClosed+ms.EOFOther+ms.StillOpen > 0 {
		bad = append(bad, fmt.Sprintf("%d of %d streams got their closed frames then EOF (closed frames %d, bad %d, frames after %d, ended otherwise %d, still open %d)",
			good, o.Opened, ms.Closed, ms.ClosedBad, ms.AfterClosed, ms.EOFOther, ms.StillOpen))
	}
	if n := ms2.Closed + ms2.EOFClosed + ms2.EOFOther; n > 0 {
		bad = append(bad, fmt.Sprintf("%d bystander streams were touched", n))
	}
	if o.PresenceAfter > 0 {
		bad = append(bad, fmt.Sprintf("presence still lists %d streams of the principal a second later", o.PresenceAfter))
	}
	if len(bad) > 0 {
		res.Failed = true
		res.Notef("CHECK FAILED: %s", strings.Join(bad, "; "))
	}
	res.Notef("times from writing the POST (loader's CLOCK_MONOTONIC); EOF is read by the loader's stream goroutines, so the last EOF includes their wake-up")
}
