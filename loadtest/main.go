// Command loadtest runs load scenarios against realtime and, with
// --peer nchan, against nginx+nchan in the same run, and prints both
// results side by side with their ratios.
//
//	go run ./loadtest <scenario> [flags]
//
// Scenarios: idle, fanout, flood, churn, slow, badinput, soak, chanflood,
// cluster (several nodes on a Redis, with a node or Redis killed),
// multiplex (streams of several channels, checked per channel, beside
// single-channel streams) and revoke (POST /disconnect of one principal's
// streams).
// Every scenario is bounded in count and time, sends traffic to loopback
// only, and starts (and stops) the servers itself unless --target names a
// running realtime.
// Run `go run ./loadtest <scenario> -h` for its flags.
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/workkit/realtime/loadtest/load"
)

// scenarios maps a scenario name to its flag binder.
var scenarios = map[string]func(*options) scenario{
	"idle":      idleScenario,
	"fanout":    fanoutScenario,
	"flood":     floodScenario,
	"churn":     churnScenario,
	"slow":      slowScenario,
	"badinput":  badScenario,
	"soak":      soakScenario,
	"chanflood": chanfloodScenario,
	"cluster":   clusterScenario,
	"multiplex": multiplexScenario,
	"revoke":    revokeScenario,
}

func main() {
	load.MaybeWorker()
	if len(os.Args) < 2 || scenarios[os.Args[1]] == nil {
		fmt.Fprintf(os.Stderr, "usage: loadtest <%s> [flags]\n", strings.Join(names(), "|"))
		os.Exit(2)
	}
	os.Exit(run(os.Args[1], os.Args[2:]))
}

func names() []string {
	return []string{"idle", "fanout", "flood", "churn", "slow", "badinput", "soak", "chanflood", "cluster", "multiplex", "revoke"}
}
