package connecthub

import (
	"encoding/json"
	"strings"
	"time"
)

// Node kinds.
const (
	NodeKindServer = "server" // the worker pool inside `connecthub serve`
	NodeKindWorker = "worker" // `connecthub worker` or a worker in another language
)

// Node states. SettingState is what an operator asked for; PresentState is
// what the node is doing: activating → active → deactivating → inactive.
const (
	NodeActive       = "active"
	NodeInactive     = "inactive"
	NodeActivating   = "activating"
	NodeDeactivating = "deactivating"
)

// Node is a process that executes runs, as the registry knows it.
type Node struct {
	Name           string            `json:"name"`
	Kind           string            `json:"kind"`
	Version        string            `json:"version"`
	Endpoint       string            `json:"endpoint"`
	Queues         []string          `json:"queues"`
	Handlers       []NodeHandler     `json:"handlers"`
	MaxConcurrency int               `json:"max_concurrency"`
	MetricsPort    int               `json:"metrics_port"`
	Labels         map[string]string `json:"labels"`
	SettingState   string            `json:"setting_state"`
	PresentState   string            `json:"present_state"`
	RegisteredAt   time.Time         `json:"registered_at"`
	LastHeartbeat  time.Time         `json:"last_heartbeat"`
	Running        int               `json:"running"`
	// OwnerToken is the id of the worker-scope token that registered the
	// node; empty when the admin token, an admin-scope token or the
	// server itself did. While the node is alive no other worker token
	// may register over it.
	OwnerToken string `json:"owner_token,omitempty"`
}

// NodeHandler is a handler a node serves, with what it declares about its
// configuration, so jobs can be validated against handlers that only a
// remote worker knows.
type NodeHandler struct {
	Name         string          `json:"name"`
	Description  string          `json:"description,omitempty"`
	ConfigSchema json.RawMessage `json:"config_schema,omitempty"`
	SecretKeys   []string        `json:"secret_keys,omitempty"`
}

// HandlerWildcard ends a handler name a node advertises to serve every
// handler whose name starts with what comes before it: "py:*" serves
// "py:extensions.billing.job:SyncJob" and every other "py:" handler. A
// worker that runs code it finds at run time (the Python worker's legacy
// jobs) cannot list its handlers in advance, and a job must be accepted
// before that worker has ever seen its handler.
const HandlerWildcard = "*"

// HandlerPrefix returns the prefix a wildcard handler name serves ("py:"
// for "py:*"), and false for a plain name.
func HandlerPrefix(name string) (string, bool) {
	prefix, ok := strings.CutSuffix(name, HandlerWildcard)
	if !ok || prefix == "" {
		return "", false
	}
	return prefix, true
}

// Serves reports whether the handler a node advertises runs the handler
// name: the same name, or a name its wildcard prefix covers.
func (h NodeHandler) Serves(name string) bool {
	if h.Name == name {
		return true
	}
	prefix, ok := HandlerPrefix(h.Name)
	return ok && strings.HasPrefix(name, prefix)
}

// Token scopes.
const (
	ScopeAdmin  = "admin"  // everything
	ScopeWorker = "worker" // the worker protocol only
)

// Token is an API token. Only a hash of its secret is stored; the secret is
// shown once, when the token is created.
type Token struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Scope string `json:"scope"`
	Hash  string `json:"-"`
	// Queues are the queues a worker-scope token may register nodes for
	// and claim runs from (default: "default"); empty for admin scope.
	// They bound which jobs' secrets the token's workers can receive.
	Queues []string `json:"queues,omitempty"`
	// NodePrefix is the prefix of every node name a worker-scope token
	// may act for (default: the token's name); empty for admin scope. It
	// keeps one worker's token from speaking for another node.
	NodePrefix string `json:"node_prefix,omitempty"`
	// Owner is the user a personal (user-scope) token acts for, with that
	// user's role; empty for admin and worker scope.
	Owner      string     `json:"owner,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// FillEmpty makes the node's lists and maps non-nil, so that JSON answers
// [] and {} rather than null.
func (n *Node) FillEmpty() {
	if n.Queues == nil {
		n.Queues = []string{}
	}
	if n.Handlers == nil {
		n.Handlers = []NodeHandler{}
	}
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
}
