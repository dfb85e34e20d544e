package store

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/connecthub/connecthub"
)

// DecodeNodeDocs reads a node's JSON columns (queues, handlers, labels);
// the lists and the map are never nil, so callers always get [] and {}.
func DecodeNodeDocs[T string | []byte](n *connecthub.Node, queues, handlers, labels T) error {
	if err := json.Unmarshal([]byte(queues), &n.Queues); err != nil {
		return fmt.Errorf("node %s: decode queues: %w", n.Name, err)
	}
	if err := json.Unmarshal([]byte(handlers), &n.Handlers); err != nil {
		return fmt.Errorf("node %s: decode handlers: %w", n.Name, err)
	}
	if err := json.Unmarshal([]byte(labels), &n.Labels); err != nil {
		return fmt.Errorf("node %s: decode labels: %w", n.Name, err)
	}
	n.FillEmpty()
	return nil
}

// ScanNode reads a row of the drivers' node columns (name, kind, version,
// endpoint, queues, handlers, max_concurrency, metrics_port, labels,
// setting_state, present_state, registered_at, last_heartbeat, running,
// owner_token). T is how the dialect stores a time, toTime what turns it
// into a UTC time.
func ScanNode[T any](sc Scanner, toTime func(T) time.Time) (*connecthub.Node, error) {
	var (
		n                             connecthub.Node
		queues, handlers, labels      string
		maxConc, metricsPort, running int64
		registered, heartbeat         T
	)
	err := sc.Scan(&n.Name, &n.Kind, &n.Version, &n.Endpoint, &queues, &handlers, &maxConc, &metricsPort,
		&labels, &n.SettingState, &n.PresentState, &registered, &heartbeat, &running, &n.OwnerToken)
	if err != nil {
		return nil, err
	}
	if err := DecodeNodeDocs(&n, queues, handlers, labels); err != nil {
		return nil, err
	}
	n.MaxConcurrency = int(maxConc)
	n.MetricsPort = int(metricsPort)
	n.Running = int(running)
	n.RegisteredAt = toTime(registered)
	n.LastHeartbeat = toTime(heartbeat)
	return &n, nil
}

// MarkDead is NodeMarkDead's rule: the times are checked
// (CheckMarkDead); then, in one write transaction, mark sets the silent
// nodes inactive and returns them, and when there are any, rescue rescues
// the RUNNING runs of the nodes it is given by name, through RunRescue's
// rules, and returns the runs it rescued. The dead nodes come back in
// NodeList's order (by name), whatever order the statement returned them
// in.
func MarkDead[Tx any](inTx InTx[Tx], deadBefore, now time.Time, mark func(Tx) ([]*connecthub.Node, error),
	rescue func(tx Tx, names []string) ([]*connecthub.Run, error)) ([]*connecthub.Node, []*connecthub.Run, error) {
	if err := CheckMarkDead(deadBefore, now); err != nil {
		return nil, nil, err
	}
	var (
		dead    []*connecthub.Node
		rescued []*connecthub.Run
	)
	err := inTx(func(tx Tx) (err error) {
		if dead, err = mark(tx); err != nil || len(dead) == 0 {
			return err
		}
		names := make([]string, len(dead))
		for i, n := range dead {
			names[i] = n.Name
		}
		rescued, err = rescue(tx, names)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	slices.SortFunc(dead, func(a, b *connecthub.Node) int { return strings.Compare(a.Name, b.Name) })
	return dead, rescued, nil
}
