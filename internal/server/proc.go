package server

import (
	"context"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/httpapi"
	"github.com/connecthub/connecthub/internal/worker"
)

// serverProc is the proc API of the server's own node: its worker pool.
type serverProc struct {
	name string
	max  int
	pool *worker.Worker // nil when CONNECTHUB_WORKERS=0
	ping func(context.Context) error
}

// ProcStatus reports PENDING for a server without a worker pool, ERROR when
// the database does not answer, ABORT while an operator has stopped the
// pool, else RUNNING.
func (p *serverProc) ProcStatus(ctx context.Context) httpapi.ProcStatus {
	s := httpapi.ProcStatus{Name: p.name, Max: p.max, Status: httpapi.ProcPending}
	if p.pool == nil {
		return s
	}
	s.Running, s.Paused = p.pool.Running(), p.pool.Paused()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	switch {
	case p.ping(ctx) != nil:
		s.Status, s.Error = httpapi.ProcError, "the database does not answer"
	case s.Paused:
		s.Status = httpapi.ProcAbort
	default:
		s.Status = httpapi.ProcRunning
	}
	return s
}

// ProcStop stops claiming; runs in flight finish.
func (p *serverProc) ProcStop() error {
	if p.pool == nil {
		return noPool()
	}
	p.pool.Pause()
	return nil
}

// ProcStart resumes claiming.
func (p *serverProc) ProcStart() error {
	if p.pool == nil {
		return noPool()
	}
	p.pool.Resume()
	return nil
}

func noPool() error {
	return &connecthub.Error{Kind: connecthub.KindConflict, Code: "no_worker_pool",
		Message: "this server runs no worker pool (CONNECTHUB_WORKERS=0): there is nothing to stop or start"}
}
