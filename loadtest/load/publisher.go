package load

import (
	"bufio"
	"fmt"
	"net"
	"sync"
	"time"
)

// Publisher is one keep-alive publishing connection. Requests may be
// pipelined: Send queues, Flush writes, ReadReply reads answers in order.
// Not safe for concurrent use, except that one goroutine may Send/Flush
// while another calls ReadReply.
type Publisher struct {
	t    *Target
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
	buf  []byte
	data []byte
}

// DialPublisher opens a publishing connection to t.
func DialPublisher(t *Target) (*Publisher, error) {
	c, err := Dial(t.Addr, DialOptions{})
	if err != nil {
		return nil, err
	}
	return &Publisher{t: t, conn: c, r: bufio.NewReaderSize(c, 16<<10), w: bufio.NewWriterSize(c, 64<<10)}, nil
}

// Close closes the connection.
func (p *Publisher) Close() error { return p.conn.Close() }

// Send queues a publish of data (a JSON value) as event on channel.
func (p *Publisher) Send(channel, event string, data []byte) error {
	p.buf = p.t.PublishRequest(p.buf[:0], channel, event, data)
	_, err := p.w.Write(p.buf)
	return err
}

// SendRaw queues arbitrary request bytes.
func (p *Publisher) SendRaw(req []byte) error {
	_, err := p.w.Write(req)
	return err
}

// Flush writes what was queued.
func (p *Publisher) Flush() error { return p.w.Flush() }

// ReadReply reads the next response: its status and the number of
// subscribers it reached ("delivered" for realtime, "subscribers" for
// nchan; -1 when absent).
func (p *Publisher) ReadReply() (status, delivered int, body []byte, err error) {
	status, body, err = ReadResponse(p.r, false)
	if err != nil {
		return status, -1, body, err
	}
	key := `"delivered":`
	if p.t.Dialect == Nchan {
		key = `"subscribers":`
	}
	d, ok := intMember(body, key)
	if !ok {
		return status, -1, body, nil
	}
	return status, int(d), body, nil
}

// get performs a GET of path and returns status and body.
func (p *Publisher) get(path string) (int, []byte, error) {
	fmt.Fprintf(p.w, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, p.t.Addr)
	if err := p.w.Flush(); err != nil {
		return 0, nil, err
	}
	_ = p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer p.conn.SetReadDeadline(time.Time{})
	return ReadResponse(p.r, false)
}

// PublishPlan says what PublishSeq publishes: sequence numbers 1..Events
// on Channel at Rate per second (0: as fast as the window allows), with at
// most Window requests in flight (0: 1), Pad filler bytes per event.
type PublishPlan struct {
	Channel string
	Events  int
	Rate    float64
	Window  int
	Pad     int
}

// PublishStats is what a publishing run saw.
type PublishStats struct {
	Sent      int           `json:"sent"`
	OK        int           `json:"ok"`        // 2xx answers
	Delivered int64         `json:"delivered"` // sum of the subscribers each answer reports
	Statuses  map[int]int   `json:"statuses,omitempty"`
	Elapsed   time.Duration `json:"elapsed_ns"`
	Err       string        `json:"err,omitempty"`
}

// PublishSeq publishes plan's events on a fresh connection; each event's
// data carries its sequence number and the Mono() time it was written.
func PublishSeq(t *Target, plan PublishPlan) (PublishStats, error) {
	p, err := DialPublisher(t)
	if err != nil {
		return PublishStats{}, err
	}
	defer p.Close()
	window := make(chan struct{}, max(plan.Window, 1))
	st := PublishStats{Statuses: map[int]int{}}
	var rerr error
	var wg sync.WaitGroup
	wg.Go(func() { rerr = p.readReplies(plan.Events, window, &st) })
	start := time.Now()
	var werr error
	for seq := 1; seq <= plan.Events && werr == nil; seq++ {
		if plan.Rate > 0 {
			time.Sleep(time.Until(start.Add(time.Duration(float64(seq-1) / plan.Rate * float64(time.Second)))))
		}
		window <- struct{}{}
		p.data = AppendEventData(p.data[:0], seq, Mono(), plan.Pad)
		if werr = p.Send(plan.Channel, "tick", p.data); werr == nil {
			werr = p.Flush()
		}
		st.Sent++
	}
	if werr != nil {
		p.Close() // unblocks the reader
	}
	wg.Wait()
	st.Elapsed = time.Since(start)
	if werr != nil {
		rerr = werr
	}
	if rerr != nil {
		st.Err = rerr.Error()
	}
	return st, rerr
}

// readReplies reads n answers, freeing a window slot for each.
func (p *Publisher) readReplies(n int, window chan struct{}, st *PublishStats) error {
	for range n {
		status, d, _, err := p.ReadReply()
		if err != nil {
			return err
		}
		<-window
		st.Statuses[status]++
		if status/100 == 2 {
			st.OK++
		}
		if d > 0 {
			st.Delivered += int64(d)
		}
	}
	return nil
}
