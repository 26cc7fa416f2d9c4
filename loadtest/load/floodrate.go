package load

import (
	"time"
)

// floodPaced publishes on one connection at Rate/Conns requests per second
// from start until start+Duration: a writer sends each request at its
// moment (or as soon as fewer than Window are in flight, when the server
// falls behind) and a reader records each answer's latency from the
// moment its request was written.
func floodPaced(t *Target, p FloodParams, channel string, start time.Time) floodTally {
	tl := floodTally{statuses: map[int]int{}}
	pub, err := DialPublisher(t)
	if err != nil {
		tl.err = err
		return tl
	}
	defer pub.Close()
	inflight := make(chan int64, max(p.Window, 1)) // write times of the requests not answered yet
	done := make(chan struct{})
	go func() {
		defer close(done)
		for sent := range inflight {
			status, _, body, err := pub.ReadReply()
			if err != nil {
				tl.err = err
				for range inflight { // let the writer finish
				}
				return
			}
			tl.lat.Record(Mono() - sent)
			tl.count(status, body, p.Batch)
		}
	}()
	werr := pacedWrites(t, pub, p, channel, start, inflight)
	close(inflight)
	<-done
	if tl.err == nil {
		tl.err = werr
	}
	return tl
}

// pacedWrites sends one request at each of its moments until the flood's
// end, queueing each write time on inflight (which blocks at Window).
func pacedWrites(t *Target, pub *Publisher, p FloodParams, channel string, start time.Time, inflight chan<- int64) error {
	interval := time.Duration(float64(time.Second) * float64(max(p.Conns, 1)) / p.Rate)
	end := start.Add(p.Duration)
	var data, req []byte
	for seq := 1; ; seq++ {
		at := start.Add(time.Duration(seq-1) * interval)
		if !at.Before(end) {
			return nil
		}
		time.Sleep(time.Until(at))
		data = AppendEventData(data[:0], seq, Mono(), p.Pad)
		var err error
		if p.Batch > 0 {
			req = t.BatchRequest(req[:0], batchOf(channel, data, p.Batch))
			err = pub.SendRaw(req)
		} else {
			err = pub.Send(channel, "flood", data)
		}
		sent := Mono()
		if err == nil {
			err = pub.Flush()
		}
		if err != nil {
			return err
		}
		inflight <- sent
	}
}

// redisFloodMetrics adds the Redis's share when the server runs on one.
func redisFloodMetrics(res *Result, s *floodTally, cpu time.Duration) {
	res.Add("redis CPU", cpu.Seconds(), "s")
	if s.events > 0 {
		res.Add("redis CPU per publish", float64(cpu.Microseconds())/float64(s.events), "µs")
	}
}
