package broker_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/workkit/realtime/broker"
)

// Presence and revocation (SPEC 3.9), on every topology: on Redis the
// streams are spread over the nodes by the proxy, and every answer must
// count them all.

// principalToken is a subscriber token of principal sub for every channel.
func principalToken(t testing.TB, sub string) string {
	t.Helper()
	tok, err := broker.NewJWTSecret([]byte(testSecret), "").Sign(broker.NewClaims(sub, []string{"*"}, nil, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type presenceAnswer struct {
	Channel     string `json:"channel"`
	Subscribers int    `json:"subscribers"`
	Principals  []struct {
		Principal string `json:"principal"`
		Streams   int    `json:"streams"`
	} `json:"principals"`
	Truncated bool `json:"truncated"`
}

// presence asks GET /channels/ch/presence with a publisher token.
func (s *server) presence(ch string) presenceAnswer {
	s.t.Helper()
	r := s.do(get("/channels/"+ch+"/presence", bearerHeader(pubToken(s.t))))
	if r.status != 200 {
		s.t.Fatalf("presence %s: %d %s", ch, r.status, r.body)
	}
	var p presenceAnswer
	mustJSON(s.t, r.body, &p)
	return p
}

// presenceString renders p's principals as "u1:2 u2:1".
func (p presenceAnswer) String() string {
	var parts []string
	for _, pc := range p.Principals {
		parts = append(parts, pc.Principal+":"+strconv.Itoa(pc.Streams))
	}
	return strings.Join(parts, " ")
}

// waitPresence waits until the channel's presence reads want.
func (s *server) waitPresence(ch string, subscribers int, want string) presenceAnswer {
	s.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		p := s.presence(ch)
		if p.Subscribers == subscribers && p.String() == want {
			return p
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("presence of %s: %d subscribers %q, want %d %q", ch, p.Subscribers, p.String(), subscribers, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// closedBy reads the stream's next event, which must be its
// realtime.closed frame with reason, and then the end of the stream.
func (st *stream) closedBy(reason string) {
	st.t.Helper()
	want := "event: realtime.closed\ndata: {\"reason\":\"" + reason + "\"}\n\n"
	if f := st.nextEvent(); f != want {
		st.t.Fatalf("frame %q, want %q", f, want)
	}
	st.expectClosed()
}

// disconnect POSTs body to /disconnect with a publisher token.
func (s *server) disconnect(body string) response {
	s.t.Helper()
	return s.do(post("/disconnect", body, bearerHeader(pubToken(s.t))))
}

// TestPresenceCountsPrincipals: three principals on five streams, wherever
// the streams landed; another channel's stream is not counted.
func TestPresenceCountsPrincipals(t *testing.T) {
	s := startServer(t, nil)
	for _, who := range []string{"u1", "u2", "u1", "u3", "u2"} {
		s.subscribe("room", bearerHeader(principalToken(t, who)))
	}
	s.subscribe("elsewhere", bearerHeader(principalToken(t, "u4")))
	p := s.waitPresence("room", 5, "u1:2 u2:2 u3:1")
	if p.Channel != "room" || p.Truncated {
		t.Fatalf("presence %+v", p)
	}
	if p := s.presence("nobody-here"); p.Subscribers != 0 || len(p.Principals) != 0 {
		t.Fatalf("presence of an unknown channel %+v, want empty", p)
	}
	if r := s.do(get("/channels/room/presence")); r.status != 401 {
		t.Fatalf("presence without a token: %d, want 401", r.status)
	}
	if r := s.do(get("/channels/room/presence", bearerHeader(subToken(t)))); r.status != 403 {
		t.Fatalf("presence with a subscriber token: %d, want 403", r.status)
	}
	if r := s.do(post("/channels/room/presence", "{}", bearerHeader(pubToken(t)))); r.status != 405 {
		t.Fatalf("POST presence: %d, want 405", r.status)
	}
}

// TestDisconnectByPrincipal closes exactly the principal's streams, on
// every channel, each after realtime.closed; the others keep streaming and
// presence drops the closed ones at once.
func TestDisconnectByPrincipal(t *testing.T) {
	s := startServer(t, nil)
	var u1, u2 []*stream
	for range 2 {
		u1 = append(u1, s.subscribe("room", bearerHeader(principalToken(t, "u1"))))
		u2 = append(u2, s.subscribe("room", bearerHeader(principalToken(t, "u2"))))
	}
	u1 = append(u1, s.subscribe("lobby", bearerHeader(principalToken(t, "u1"))))
	s.waitPresence("room", 4, "u1:2 u2:2")
	s.waitPresence("lobby", 1, "u1:1")

	r := s.disconnect(`{"principal":"u1"}`)
	if r.status != 200 || r.body != `{"closed":3}` {
		t.Fatalf("disconnect: %d %s, want 200 {\"closed\":3}", r.status, r.body)
	}
	for _, st := range u1 {
		st.closedBy("revoked")
	}
	if p := s.presence("room"); p.Subscribers != 2 || p.String() != "u2:2" {
		t.Fatalf("presence right after the disconnect: %d %q, want 2 u2:2", p.Subscribers, p.String())
	}
	p := s.publish("room", "msg", `{"n":1}`)
	for _, st := range u2 {
		if f := st.nextEvent(); f != frame(p.ID, "msg", `{"n":1}`) {
			t.Fatalf("u2 got %q after the disconnect", f)
		}
	}
	if r := s.disconnect(`{"principal":"u1"}`); r.body != `{"closed":0}` {
		t.Fatalf("second disconnect: %s, want closed 0", r.body)
	}
}

// TestDisconnectByPrincipalAndChannel closes the streams matching both.
func TestDisconnectByPrincipalAndChannel(t *testing.T) {
	s := startServer(t, nil)
	room := s.subscribe("room", bearerHeader(principalToken(t, "u1")))
	lobby := s.subscribe("lobby", bearerHeader(principalToken(t, "u1")))
	other := s.subscribe("room", bearerHeader(principalToken(t, "u2")))
	s.waitPresence("room", 2, "u1:1 u2:1")
	s.waitPresence("lobby", 1, "u1:1")
	if r := s.disconnect(`{"principal":"u1","channel":"room"}`); r.body != `{"closed":1}` {
		t.Fatalf("disconnect u1 from room: %d %s", r.status, r.body)
	}
	room.closedBy("revoked")
	s.waitPresence("room", 1, "u2:1")
	s.waitPresence("lobby", 1, "u1:1")
	if r := s.disconnect(`{"channel":"room"}`); r.body != `{"closed":1}` {
		t.Fatalf("disconnect room: %d %s", r.status, r.body)
	}
	other.closedBy("revoked")
	p := s.publish("lobby", "msg", `1`)
	if f := lobby.nextEvent(); f != frame(p.ID, "msg", `1`) {
		t.Fatalf("lobby got %q", f)
	}
}

// TestDisconnectRefusesBadRequests: a body that selects nothing, or is not
// the documented object, is 400; a publisher token covering one channel
// may disconnect that channel only, not a principal everywhere.
func TestDisconnectRefusesBadRequests(t *testing.T) {
	s := startServer(t, nil)
	for _, body := range []string{`{}`, `{"principal":1}`, `{"user":"u1"}`, `[]`, `{"principal":"u1"} {}`, `{"channel":"bad name"}`, ``} {
		if r := s.disconnect(body); r.status != 400 {
			t.Errorf("disconnect %q: %d %s, want 400", body, r.status, r.body)
		}
	}
	if r := s.do(get("/disconnect", bearerHeader(pubToken(t)))); r.status != 405 {
		t.Errorf("GET /disconnect: %d, want 405", r.status)
	}
	if r := s.do(post("/disconnect", `{"principal":"u1"}`)); r.status != 401 {
		t.Errorf("no token: %d, want 401", r.status)
	}
	scoped := bearerHeader(token(t, nil, []string{"room"}, time.Hour))
	for body, want := range map[string]int{
		`{"channel":"room"}`:                  200,
		`{"principal":"u1","channel":"room"}`: 200,
		`{"channel":"lobby"}`:                 403,
		`{"principal":"u1"}`:                  403,
	} {
		if r := s.do(post("/disconnect", body, scoped)); r.status != want {
			t.Errorf("scoped token, %s: %d %s, want %d", body, r.status, r.body, want)
		}
	}
}

// TestDeleteChannel closes its streams with reason deleted and ends its
// incarnation: a resume from an earlier id gets buffer_gap, and the next
// event is numbered above every earlier one.
func TestDeleteChannel(t *testing.T) {
	s := startServer(t, nil)
	st := s.subscribe("doomed", bearerHeader(principalToken(t, "u1")))
	s.waitSubscribers("doomed", 1)
	var last published
	for i := range 3 {
		last = s.publish("doomed", "msg", strconv.Itoa(i))
		st.nextEvent()
	}
	r := s.do("DELETE /channels/doomed HTTP/1.1\r\nHost: x\r\n" + bearerHeader(pubToken(t)) + "\r\n")
	if r.status != 200 || r.body != `{"closed":1}` {
		t.Fatalf("DELETE: %d %s, want 200 {\"closed\":1}", r.status, r.body)
	}
	st.closedBy("deleted")
	s.waitPresence("doomed", 0, "")

	again, resp := s.trySubscribe("doomed", "Last-Event-ID: "+strconv.FormatUint(last.ID-2, 10)+"\r\n")
	if again == nil {
		t.Fatalf("resume after DELETE: %d %s", resp.status, resp.body)
	}
	if f := again.nextEvent(); !strings.Contains(f, "event: realtime.reset\n") || !strings.Contains(f, `"reason":"buffer_gap"`) {
		t.Fatalf("resume after DELETE: %q, want a buffer_gap reset", f)
	}
	if p := s.publish("doomed", "msg", "3"); p.ID <= last.ID {
		t.Fatalf("first id after DELETE %d, want above %d", p.ID, last.ID)
	}
	if r := s.do("DELETE /channels/bad%20name HTTP/1.1\r\nHost: x\r\n" + bearerHeader(pubToken(t)) + "\r\n"); r.status != 400 {
		t.Fatalf("DELETE of an invalid name: %d, want 400", r.status)
	}
	if r := s.do("DELETE /channels/doomed HTTP/1.1\r\nHost: x\r\n" + bearerHeader(subToken(t)) + "\r\n"); r.status != 403 {
		t.Fatalf("DELETE with a subscriber token: %d, want 403", r.status)
	}
}

// TestRevocationOfMultiplexedStreams: deleting one channel of a
// multiplexed stream ends that channel only (a realtime.closed naming it);
// the stream goes on with the others, and ends when its last one is
// revoked.
func TestRevocationOfMultiplexedStreams(t *testing.T) {
	s := startServer(t, nil)
	st, _ := s.subscribeMux([]string{"mx:keep", "mx:gone"}, bearerHeader(principalToken(t, "u1")))
	s.waitPresence("mx:keep", 1, "u1:1")
	s.waitPresence("mx:gone", 1, "u1:1")
	r := s.do("DELETE /channels/mx:gone HTTP/1.1\r\nHost: x\r\n" + bearerHeader(pubToken(t)) + "\r\n")
	if r.body != `{"closed":1}` {
		t.Fatalf("DELETE: %d %s", r.status, r.body)
	}
	if e := st.nextMux(); e.event != "realtime.closed" || e.channel != "mx:gone" || !strings.Contains(string(e.rawData), `"reason":"deleted"`) {
		t.Fatalf("after DELETE: %+v, want realtime.closed for mx:gone", e)
	}
	p := s.publish("mx:keep", "msg", "1")
	if e := st.nextMux(); e.channel != "mx:keep" || e.id != p.ID {
		t.Fatalf("after DELETE of the other channel: %+v, want mx:keep's event %d", e, p.ID)
	}
	if r := s.disconnect(`{"principal":"u1"}`); r.body != `{"closed":1}` {
		t.Fatalf("disconnect: %s", r.body)
	}
	if e := st.nextMux(); e.event != "realtime.closed" || e.channel != "mx:keep" {
		t.Fatalf("after disconnect: %+v", e)
	}
	st.expectClosed()
}
