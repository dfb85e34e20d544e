package node

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/connecthub/connecthub"
)

// Limits of a registration. They keep one node's row, and the handler and
// node listings built from every node's row, to a sane size; a real node is
// far inside all of them.
const (
	maxVersionLen     = 128
	maxEndpointLen    = 512
	maxQueues         = 64
	maxQueueLen       = 64 // the same bound as a job's queue
	maxHandlers       = 1000
	maxDescriptionLen = 1024
	maxSecretKeys     = 64
	maxSecretKeyLen   = 128
	maxLabels         = 32
	maxLabelNameLen   = 64
	maxLabelValueLen  = 256
	maxConcurrency    = 100000
)

var (
	// namePattern is the shape of node and handler names: the same as job
	// ids, so they are safe in URLs, logs and metrics labels.
	namePattern  = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)
	queuePattern = regexp.MustCompile(`^[A-Za-z0-9._:-]+$`)
	// labelPattern is Prometheus's classic label name syntax, which every
	// Prometheus version accepts: node labels become SD target labels.
	labelPattern = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// reservedLabels are the SD labels the registry sets itself; a node that
// declared one would silently lose it, so it is refused instead.
var reservedLabels = map[string]bool{"node": true, "kind": true}

// validName checks a node name (the path parameter of every per-node call).
func validName(name string) error {
	if !namePattern.MatchString(name) {
		return connecthub.FieldError("name", "", "name must be 1-128 characters of A-Z a-z 0-9 . _ : - (got %q)", truncate(name, 64))
	}
	return nil
}

// validate checks a registration. Every message names the offending field
// the way the worker sent it (handlers[2].name, labels.zone), because the
// person reading it is writing a worker, maybe in another language.
func validate(n *connecthub.Node) error {
	if err := validName(n.Name); err != nil {
		return err
	}
	switch n.Kind {
	case connecthub.NodeKindServer, connecthub.NodeKindWorker:
	default:
		return connecthub.FieldError("kind", "", "kind must be %q or %q (got %q)", connecthub.NodeKindServer, connecthub.NodeKindWorker, truncate(n.Kind, 32))
	}
	if len(n.Version) > maxVersionLen {
		return connecthub.FieldError("version", "", "version must be at most %d characters", maxVersionLen)
	}
	if n.Endpoint != "" {
		if len(n.Endpoint) > maxEndpointLen {
			return connecthub.FieldError("endpoint", "", "endpoint must be at most %d characters", maxEndpointLen)
		}
		if _, _, err := splitEndpoint(n.Endpoint); err != nil {
			return connecthub.FieldError("endpoint", "", "%s", err.Error())
		}
	}
	if err := validateQueues(n.Queues); err != nil {
		return err
	}
	if err := validateHandlers(n.Handlers); err != nil {
		return err
	}
	if n.MaxConcurrency < 0 || n.MaxConcurrency > maxConcurrency {
		return connecthub.FieldError("max_concurrency", "", "max_concurrency must be between 0 and %d", maxConcurrency)
	}
	if n.MetricsPort < 0 || n.MetricsPort > 65535 {
		return connecthub.FieldError("metrics_port", "", "metrics_port must be between 0 and 65535 (0 = the endpoint's port)")
	}
	if n.Running < 0 {
		return connecthub.FieldError("running", "", "running must not be negative")
	}
	return validateLabels(n.Labels)
}

func validateQueues(queues []string) error {
	if len(queues) == 0 {
		return connecthub.FieldError("queues", "", "queues must list at least one queue the node claims from")
	}
	if len(queues) > maxQueues {
		return connecthub.FieldError("queues", "", "queues must list at most %d queues", maxQueues)
	}
	seen := make(map[string]bool, len(queues))
	for i, q := range queues {
		field := fmt.Sprintf("queues[%d]", i)
		if q == "" || len(q) > maxQueueLen || !queuePattern.MatchString(q) {
			return connecthub.FieldError(field, "invalid_queues", "queue must be 1-%d characters of A-Z a-z 0-9 . _ : - (got %q)", maxQueueLen, truncate(q, 64))
		}
		if seen[q] {
			return connecthub.FieldError(field, "invalid_queues", "queue %q is listed twice", q)
		}
		seen[q] = true
	}
	return nil
}

// validHandlerName accepts a handler name, or a prefix of one followed by
// the wildcard (connecthub.HandlerWildcard), which serves every handler the
// prefix starts.
func validHandlerName(name string) bool {
	if prefix, ok := connecthub.HandlerPrefix(name); ok {
		return namePattern.MatchString(prefix) && len(name) <= 128
	}
	return namePattern.MatchString(name)
}

// validateHandlers requires at least one handler: a node claims only runs of
// the handlers it lists, and an empty list must never be read as "any".
func validateHandlers(handlers []connecthub.NodeHandler) error {
	if len(handlers) == 0 {
		return connecthub.FieldError("handlers", "", "handlers must list at least one handler the node serves")
	}
	if len(handlers) > maxHandlers {
		return connecthub.FieldError("handlers", "", "handlers must list at most %d handlers", maxHandlers)
	}
	seen := make(map[string]bool, len(handlers))
	for i, h := range handlers {
		field := fmt.Sprintf("handlers[%d]", i)
		if !validHandlerName(h.Name) {
			return connecthub.FieldError(field+".name", "invalid_handlers", "handler name must be 1-128 characters of A-Z a-z 0-9 . _ : -, or such a prefix followed by * to serve every handler that starts with it (got %q)", truncate(h.Name, 64))
		}
		if seen[h.Name] {
			return connecthub.FieldError(field+".name", "invalid_handlers", "handler %q is listed twice", h.Name)
		}
		seen[h.Name] = true
		if len(h.Description) > maxDescriptionLen {
			return connecthub.FieldError(field+".description", "invalid_handlers", "description must be at most %d characters", maxDescriptionLen)
		}
		if err := validateSchema(h.ConfigSchema); err != nil {
			return connecthub.FieldError(field+".config_schema", "invalid_handlers", "handler %s: %s", h.Name, err.Error())
		}
		if len(h.SecretKeys) > maxSecretKeys {
			return connecthub.FieldError(field+".secret_keys", "invalid_handlers", "secret_keys must list at most %d keys", maxSecretKeys)
		}
		for j, k := range h.SecretKeys {
			if strings.TrimSpace(k) == "" || len(k) > maxSecretKeyLen {
				return connecthub.FieldError(fmt.Sprintf("%s.secret_keys[%d]", field, j), "invalid_handlers", "secret key must be 1-%d characters", maxSecretKeyLen)
			}
		}
	}
	return nil
}

// validateSchema accepts what JSON Schema calls a schema: an object or a
// boolean. Whether it compiles is checked when a job is saved against it,
// where the error can name the job.
func validateSchema(raw json.RawMessage) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	if !json.Valid(raw) {
		return fmt.Errorf("config_schema is not valid JSON")
	}
	switch raw[0] {
	case '{', 't', 'f':
		return nil
	default:
		return fmt.Errorf("config_schema must be a JSON Schema object")
	}
}

func validateLabels(labels map[string]string) error {
	if len(labels) > maxLabels {
		return connecthub.FieldError("labels", "", "labels must have at most %d entries", maxLabels)
	}
	for k, v := range labels {
		field := "labels." + truncate(k, 64)
		switch {
		case len(k) > maxLabelNameLen || !labelPattern.MatchString(k):
			return connecthub.FieldError(field, "invalid_labels", "label name %q must match [a-zA-Z_][a-zA-Z0-9_]* and be at most %d characters (it becomes a Prometheus label)", truncate(k, 64), maxLabelNameLen)
		case strings.HasPrefix(k, "__"):
			return connecthub.FieldError(field, "invalid_labels", "label name %q must not start with __ (reserved by Prometheus)", k)
		case reservedLabels[k]:
			return connecthub.FieldError(field, "invalid_labels", "label name %q is reserved: the registry sets it", k)
		case len(v) > maxLabelValueLen:
			return connecthub.FieldError(field, "invalid_labels", "label %s must be at most %d characters", k, maxLabelValueLen)
		}
	}
	return nil
}

// splitEndpoint returns the host and port of a node's endpoint, given as a
// URL ("http://10.0.0.5:9100", port defaulting to the scheme's) or as a bare
// "host:port".
func splitEndpoint(endpoint string) (host string, port int, err error) {
	if strings.Contains(endpoint, "://") {
		u, perr := url.Parse(endpoint)
		if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil {
			return "", 0, fmt.Errorf("endpoint must be an http(s) URL like http://host:port or a host:port (got %q)", truncate(endpoint, 64))
		}
		host = u.Hostname()
		switch p := u.Port(); {
		case p != "":
			port, err = parsePort(p)
		case u.Scheme == "https":
			port = 443
		default:
			port = 80
		}
		if err != nil {
			return "", 0, err
		}
		return host, port, nil
	}
	h, p, serr := net.SplitHostPort(endpoint)
	if serr != nil || h == "" {
		return "", 0, fmt.Errorf("endpoint must be an http(s) URL like http://host:port or a host:port (got %q)", truncate(endpoint, 64))
	}
	port, err = parsePort(p)
	if err != nil {
		return "", 0, err
	}
	return h, port, nil
}

func parsePort(p string) (int, error) {
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("endpoint port must be between 1 and 65535 (got %q)", truncate(p, 16))
	}
	return n, nil
}

// truncate shortens what a client sent before it is echoed in an error.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
