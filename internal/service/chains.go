package service

import (
	"context"

	"github.com/connecthub/connecthub"
)

// JobChain returns a job's upstream and downstream jobs, for the job
// page's graph and GET /jobs/{id}/chain.
func (s *Service) JobChain(ctx context.Context, id string) (*connecthub.JobChain, error) {
	j, err := s.st.JobGet(ctx, id)
	if err != nil {
		return nil, err
	}
	up, err := s.st.JobUpstream(ctx, id)
	if err != nil {
		return nil, err
	}
	return &connecthub.JobChain{JobID: j.ID, Upstream: up, OnSuccess: j.OnSuccess, OnFailure: j.OnFailure}, nil
}

// RunChain returns a run's parent (for a run a chain started) and the
// runs its end started.
func (s *Service) RunChain(ctx context.Context, runID string) (*connecthub.RunChain, error) {
	r, err := s.st.RunGet(ctx, runID)
	if err != nil {
		return nil, err
	}
	return s.RunChainOf(ctx, r)
}

// RunChainOf is RunChain for a run already read.
func (s *Service) RunChainOf(ctx context.Context, r *connecthub.Run) (*connecthub.RunChain, error) {
	c := &connecthub.RunChain{RunID: r.ID, Children: []connecthub.ChainRun{}}
	meta, err := connecthub.DecodeRunMeta(r.Meta)
	if err != nil {
		return nil, err
	}
	if meta.ParentRun != "" {
		c.ParentRun = meta.ParentRun
		switch p, err := s.st.RunGet(ctx, meta.ParentRun); {
		case err == nil:
			link := connecthub.ChainRunOf(p)
			c.Parent = &link
		case !connecthub.IsKind(err, connecthub.KindNotFound):
			return nil, err // a parent deleted since is shown by id only
		}
	}
	kids, err := s.st.RunChainChildren(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	for _, k := range kids {
		c.Children = append(c.Children, connecthub.ChainRunOf(k))
	}
	return c, nil
}
