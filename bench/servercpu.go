package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// pgPostmaster returns the process id of the PostgreSQL server behind
// adminURL when it runs on this machine and its processes can be read
// (the parent of a backend is the postmaster), or 0 when they cannot: a
// remote server's CPU is not measured. The server's CPU per run is what
// bounds the throughput once the node and the server share the cores, and
// the load of a shared machine disturbs it far less than runs/s.
func pgPostmaster(ctx context.Context, adminURL string) int {
	conn, err := pgConnect(ctx, adminURL)
	if err != nil {
		return 0
	}
	defer conn.Close(context.WithoutCancel(ctx))
	ctx, cancel := context.WithTimeout(ctx, pgAdminTimeout)
	defer cancel()
	var backend int
	if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&backend); err != nil {
		return 0
	}
	f, err := procStat(backend)
	if err != nil || len(f) < 2 {
		return 0
	}
	pm, err := strconv.Atoi(f[1])
	if err != nil {
		return 0
	}
	if _, err := serverCPU(pm); err != nil {
		return 0
	}
	return pm
}

// serverCPU returns the CPU time (user and system) that the server whose
// postmaster is pm used so far: the postmaster's own, that of its exited
// processes it reaped (cutime, cstime: backends that closed) and that of
// its live processes (backends, WAL writer, checkpointer, autovacuum).
func serverCPU(pm int) (time.Duration, error) {
	f, err := procStat(pm)
	if err != nil {
		return 0, err
	}
	ticks := sumFields(f, 11, 12, 13, 14)
	kids, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pm, pm))
	if err != nil {
		return 0, err
	}
	for _, k := range strings.Fields(string(kids)) {
		pid, err := strconv.Atoi(k)
		if err != nil {
			continue
		}
		if g, err := procStat(pid); err == nil {
			ticks += sumFields(g, 11, 12)
		} // else it exited meanwhile: the postmaster's cutime has it
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// procStat returns the fields of /proc/<pid>/stat after the command name
// (which may hold spaces), whose CPU times count clockTicks: index 0 is the state, 1 the parent, 11 and 12
// utime and stime, 13 and 14 the reaped children's.
func procStat(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 15 {
		return nil, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	return f, nil
}

// sumFields adds the numeric fields at the given indexes.
func sumFields(f []string, idx ...int) int64 {
	var n int64
	for _, i := range idx {
		v, _ := strconv.ParseInt(f[i], 10, 64)
		n += v
	}
	return n
}
