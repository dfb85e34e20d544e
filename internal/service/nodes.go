package service

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/internal/node"
)

// NodeRegistry is the node registry as the service uses it; *node.Registry
// implements it.
type NodeRegistry interface {
	List(ctx context.Context) ([]*connecthub.Node, error)
	Clean(ctx context.Context, olderThan time.Duration) (int64, error)
	SetSettingState(ctx context.Context, name, state string) (*connecthub.Node, error)
	PrometheusSD(ctx context.Context) ([]node.SDTarget, error)
}

// errNoRegistry answers node calls on a service built without a registry
// (an embedding that runs no nodes).
var errNoRegistry = &connecthub.Error{Kind: connecthub.KindUnavailable, Code: "no_node_registry",
	Message: "this server keeps no node registry"}

// NodeList returns the registered nodes, ordered by name.
func (s *Service) NodeList(ctx context.Context) ([]*connecthub.Node, error) {
	if s.nodes == nil {
		return nil, errNoRegistry
	}
	return s.nodes.List(ctx)
}

// NodeClean deletes the inactive nodes silent for longer than olderThan
// (0 = 24h) and returns how many.
func (s *Service) NodeClean(ctx context.Context, olderThan time.Duration) (int64, error) {
	if s.nodes == nil {
		return 0, errNoRegistry
	}
	return s.nodes.Clean(ctx, olderThan)
}

// NodeSetState records an operator's stop (connecthub.NodeInactive) or
// start (connecthub.NodeActive) of a node, which the node applies at its
// next keepalive, and returns the node.
func (s *Service) NodeSetState(ctx context.Context, name, state string) (*connecthub.Node, error) {
	if s.nodes == nil {
		return nil, errNoRegistry
	}
	return s.nodes.SetSettingState(ctx, name, state)
}

// PrometheusSD returns the active nodes' metrics endpoints as Prometheus
// HTTP service-discovery target groups.
func (s *Service) PrometheusSD(ctx context.Context) ([]node.SDTarget, error) {
	if s.nodes == nil {
		return nil, errNoRegistry
	}
	return s.nodes.PrometheusSD(ctx)
}

// Warning is a remark about a job that was saved anyway: something an
// operator should know because the job's runs may not execute soon, but
// that may be temporary (a worker being restarted) and so must not refuse
// the save.
type Warning struct {
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// Warning codes.
const (
	// WarnHandlerUnserved: the handler is known to this server, but no
	// registered node serves it (e.g. serve runs with CONNECTHUB_WORKERS=0
	// and no worker that has it registered yet).
	WarnHandlerUnserved = "handler_unserved"
	// WarnHandlerInactive: every node that serves the handler is stopped,
	// dead or shutting down.
	WarnHandlerInactive = "handler_inactive"
	// WarnQueueUnserved: active nodes serve the handler, but none of them
	// claims from the job's queue.
	WarnQueueUnserved = "queue_unserved"
)

// HandlerNode is a node that serves a handler, as GET /handlers shows it.
type HandlerNode struct {
	Name         string `json:"name"`
	Kind         string `json:"kind"`
	PresentState string `json:"present_state"`
	SettingState string `json:"setting_state"`
}

// HandlerList lists every handler known here: those of this server's own
// registry and those that registered nodes advertise, merged by name and
// ordered by name. Each lists the nodes that serve it. A handler this
// server has is described by its own spec; one only nodes know is described
// by the node that best represents it (see bestNode).
func (s *Service) HandlerList(ctx context.Context) ([]HandlerInfo, error) {
	nodes, err := s.nodesForSave(ctx)
	if err != nil {
		return nil, err
	}
	byName := make(map[string]*HandlerInfo)
	for _, sp := range s.registry.List() {
		info := infoOf(sp)
		info.Local = true
		byName[sp.Name] = &info
	}
	for _, name := range advertised(nodes) {
		info, ok := byName[name]
		if !ok {
			_, h := bestNode(name, nodes)
			built := infoOf(specOf(h))
			info = &built
			byName[name] = info
		}
		for _, n := range servingNodes(name, nodes) {
			info.Nodes = append(info.Nodes, HandlerNode{Name: n.Name, Kind: n.Kind, PresentState: n.PresentState, SettingState: n.SettingState})
		}
	}
	out := make([]HandlerInfo, 0, len(byName))
	for _, info := range byName {
		out = append(out, *info)
	}
	slices.SortFunc(out, func(a, b HandlerInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// nodesForSave reads the registry for a job save or a handler listing; nil
// when the service has no registry.
func (s *Service) nodesForSave(ctx context.Context) ([]*connecthub.Node, error) {
	if s.nodes == nil {
		return nil, nil
	}
	return s.nodes.List(ctx)
}

// resolveHandler finds the spec a job's handler is validated against and
// the warnings about who will run it. A handler is accepted when this
// server's registry has it (its own spec wins) or some registered node
// advertises it (that node's schema and secret keys are used); otherwise the
// save is refused. A handler this server switched off is refused whoever
// advertises it: the operator's choice is not a node's to override, and
// the spec a node advertises for it could not be trusted anyway. tracked
// says whether a registry was read at all: without one there is nothing to
// warn about.
func (s *Service) resolveHandler(j *connecthub.Job, nodes []*connecthub.Node, tracked bool) (handler.Spec, []Warning, error) {
	spec, local := s.registry.Lookup(j.Handler)
	if !local && slices.Contains(s.disabled, j.Handler) {
		e := connecthub.FieldError("handler", "handler_disabled",
			"handler %q is disabled on this server (for shell: CONNECTHUB_ENABLE_SHELL=true); a worker advertising it does not enable it", j.Handler)
		e.Args = []string{j.Handler}
		return handler.Spec{}, nil, e
	}
	serving := servingNodes(j.Handler, nodes)
	if !local {
		if len(serving) == 0 {
			e := connecthub.FieldError("handler", "unknown_handler",
				"unknown handler %q: neither this server nor any registered node serves it (see GET /api/v1/handlers)", j.Handler)
			e.Args = []string{j.Handler}
			return handler.Spec{}, nil, e
		}
		_, h := bestNode(j.Handler, nodes)
		spec = specOf(h)
	}
	if !tracked {
		return spec, nil, nil
	}
	return spec, servingWarnings(j, serving), nil
}

// servingWarnings says when the job's runs may wait: no node serves its
// handler, every serving node is inactive, or no active serving node claims
// from its queue.
func servingWarnings(j *connecthub.Job, serving []*connecthub.Node) []Warning {
	if len(serving) == 0 {
		return []Warning{{Code: WarnHandlerUnserved, Field: "handler", Message: fmt.Sprintf(
			"no registered node serves handler %q: its runs wait in the queue until a node that serves it registers", j.Handler)}}
	}
	var active []*connecthub.Node
	for _, n := range serving {
		if nodeActive(n) {
			active = append(active, n)
		}
	}
	if len(active) == 0 {
		return []Warning{{Code: WarnHandlerInactive, Field: "handler", Message: fmt.Sprintf(
			"every node that serves handler %q is inactive (%s): its runs wait in the queue until one is started",
			j.Handler, nodeNames(serving))}}
	}
	for _, n := range active {
		if slices.Contains(n.Queues, j.Queue) {
			return nil
		}
	}
	return []Warning{{Code: WarnQueueUnserved, Field: "queue", Message: fmt.Sprintf(
		"no active node that serves handler %q claims from queue %q (they claim from: %s): its runs wait until one does",
		j.Handler, j.Queue, strings.Join(queuesOf(active), ", "))}}
}

// nodeActive reports whether a node will claim runs: it is alive (not dead
// or shutting down) and no operator stopped it.
func nodeActive(n *connecthub.Node) bool {
	return n.SettingState == connecthub.NodeActive &&
		(n.PresentState == connecthub.NodeActive || n.PresentState == connecthub.NodeActivating)
}

// servingNodes returns the nodes that advertise the handler, by name.
func servingNodes(name string, nodes []*connecthub.Node) []*connecthub.Node {
	var out []*connecthub.Node
	for _, n := range nodes {
		if _, ok := nodeHandler(n, name); ok {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b *connecthub.Node) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// bestNode picks, among the nodes that advertise a handler, the one whose
// description of it to trust when nodes disagree (two versions of a worker
// during a rolling upgrade): an active node before an inactive one, then
// the most recently heard from, then by name so the choice is stable.
func bestNode(name string, nodes []*connecthub.Node) (*connecthub.Node, connecthub.NodeHandler) {
	var best *connecthub.Node
	var bestH connecthub.NodeHandler
	for _, n := range nodes {
		h, ok := nodeHandler(n, name)
		if !ok {
			continue
		}
		if best == nil || better(n, best) {
			best, bestH = n, h
		}
	}
	return best, bestH
}

func better(a, b *connecthub.Node) bool {
	if aa, ba := nodeActive(a), nodeActive(b); aa != ba {
		return aa
	}
	if c := a.LastHeartbeat.Compare(b.LastHeartbeat); c != 0 {
		return c > 0
	}
	return cmp.Less(a.Name, b.Name)
}

// nodeHandler returns what node n advertises for the handler name: the
// handler of that name, else a wildcard handler ("py:*") whose prefix
// covers it, so that a job may use a handler only such a node can run.
func nodeHandler(n *connecthub.Node, name string) (connecthub.NodeHandler, bool) {
	for _, h := range n.Handlers {
		if h.Name == name {
			return h, true
		}
	}
	for _, h := range n.Handlers {
		if h.Serves(name) {
			return h, true
		}
	}
	return connecthub.NodeHandler{}, false
}

// advertised returns the names of every handler some node serves.
func advertised(nodes []*connecthub.Node) []string {
	seen := make(map[string]bool)
	var out []string
	for _, n := range nodes {
		for _, h := range n.Handlers {
			if !seen[h.Name] {
				seen[h.Name] = true
				out = append(out, h.Name)
			}
		}
	}
	slices.Sort(out)
	return out
}

// specOf turns what a node advertises into a spec to validate against. It
// has no Func: it is never executed here.
func specOf(h connecthub.NodeHandler) handler.Spec {
	schema := h.ConfigSchema
	if t := bytes.TrimSpace(schema); len(t) == 0 || bytes.Equal(t, []byte("null")) {
		schema = nil // a worker's way of saying "no schema"
	}
	return handler.Spec{Name: h.Name, Description: h.Description, ConfigSchema: schema, SecretKeys: h.SecretKeys}
}

func nodeNames(nodes []*connecthub.Node) string {
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.Name + " " + stateOf(n)
	}
	return strings.Join(names, ", ")
}

// stateOf describes why a node is not active, for warnings.
func stateOf(n *connecthub.Node) string {
	if n.SettingState == connecthub.NodeInactive {
		return "stopped"
	}
	return n.PresentState
}

func queuesOf(nodes []*connecthub.Node) []string {
	var out []string
	for _, n := range nodes {
		for _, q := range n.Queues {
			if !slices.Contains(out, q) {
				out = append(out, q)
			}
		}
	}
	slices.Sort(out)
	return out
}
