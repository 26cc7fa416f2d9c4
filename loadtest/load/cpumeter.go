package load

import (
	"sync"
	"time"
)

// cpuSlot measures the CPU time one role (a node, the Redis) used over a
// window while its processes may die and be replaced: a process about to
// be killed is read first (retire), and one started during the window is
// counted from its start. Safe for concurrent use.
type cpuSlot struct {
	pids func() []int // the role's running processes

	mu      sync.Mutex
	start   map[int]time.Duration // guarded by mu: CPU of each process at the window's start
	retired time.Duration         // guarded by mu: CPU in the window of processes that are gone
}

func newCPUSlot(pids func() []int) *cpuSlot { return &cpuSlot{pids: pids} }

// begin starts the window.
func (s *cpuSlot) begin() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.start, s.retired = map[int]time.Duration{}, 0
	for _, pid := range s.pids() {
		if cpu, err := procCPU(pid); err == nil {
			s.start[pid] = cpu
		}
	}
}

// retire books the CPU of the role's current processes: call it just
// before they are killed.
func (s *cpuSlot) retire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, pid := range s.pids() {
		if cpu, err := procCPU(pid); err == nil {
			s.retired += cpu - s.start[pid]
		}
		delete(s.start, pid)
	}
}

// used returns the CPU time the role used since begin.
func (s *cpuSlot) used() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	total := s.retired
	for _, pid := range s.pids() {
		if cpu, err := procCPU(pid); err == nil {
			total += cpu - s.start[pid] // a process started since counts in full
		}
	}
	return total
}
