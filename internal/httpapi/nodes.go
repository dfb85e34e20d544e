package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/connecthub/connecthub"
)

// This file serves what the node registry adds to the API:
// the registry itself, operators' stop and start of nodes, Prometheus
// service discovery, and the endpoints whose answers depend on which nodes
// serve which handlers (the handler listing, and job saves with warnings).

// nodeRoutes registers the node registry routes: operators stop, start
// and clean nodes, everyone signed in reads them.
func (a *API) nodeRoutes(api apiFunc) {
	api("GET /api/v1/nodes", connecthub.RoleViewer, a.nodeList)
	api("POST /api/v1/nodes/clean", connecthub.RoleOperator, a.nodeClean)
	api("POST /api/v1/nodes/{name}/stop", connecthub.RoleOperator, a.nodeSetState(connecthub.NodeInactive))
	api("POST /api/v1/nodes/{name}/start", connecthub.RoleOperator, a.nodeSetState(connecthub.NodeActive))
	api("GET /api/v1/sd/prometheus", WorkerOrViewer, a.prometheusSD)
}

func (a *API) nodeList(w http.ResponseWriter, r *http.Request) error {
	nodes, err := a.svc.NodeList(r.Context())
	if err != nil {
		return err
	}
	if nodes == nil {
		nodes = []*connecthub.Node{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"nodes": nodes})
	return nil
}

// nodeClean deletes inactive nodes. Its body is optional:
// {"older_than": "24h"} (a Go duration, or a number of seconds).
func (a *API) nodeClean(w http.ResponseWriter, r *http.Request) error {
	olderThan, err := readOlderThan(r)
	if err != nil {
		return err
	}
	n, err := a.svc.NodeClean(r.Context(), olderThan)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]int64{"deleted": n})
	return nil
}

// readOlderThan reads the optional body of POST /nodes/clean. Unknown
// fields are refused: a typo such as "olderThan" must not silently mean
// the 24h default.
func readOlderThan(r *http.Request) (time.Duration, error) {
	body, err := readBody(r)
	if err != nil || len(bytes.TrimSpace(body)) == 0 {
		return 0, err
	}
	var req struct {
		OlderThan json.RawMessage `json:"older_than"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return 0, &connecthub.Error{Kind: connecthub.KindInvalid, Code: "invalid_body",
			Message: `request body must be a JSON object like {"older_than": "24h"}: ` + err.Error()}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return 0, &connecthub.Error{Kind: connecthub.KindInvalid, Code: "invalid_body", Message: "request body must hold one JSON object"}
	}
	var d connecthub.Duration
	if len(req.OlderThan) > 0 {
		if err := json.Unmarshal(req.OlderThan, &d); err != nil {
			return 0, invalid("older_than", "older_than must be a duration like \"24h\" or \"90m\": %v", err)
		}
	}
	return d.D(), nil
}

// nodeSetState records an operator's stop or start and answers the node.
// The node applies it at its next keepalive, so the answer shows the new
// setting_state with the present_state of before.
func (a *API) nodeSetState(state string) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		n, err := a.svc.NodeSetState(r.Context(), r.PathValue("name"), state)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, n)
		return nil
	}
}

// prometheusSD answers in Prometheus's HTTP SD format: a bare JSON list of
// target groups, [] when there is nothing to scrape, with a Content-Type
// Prometheus accepts ("application/json; charset=utf-8").
func (a *API) prometheusSD(w http.ResponseWriter, r *http.Request) error {
	targets, err := a.svc.PrometheusSD(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, targets)
	return nil
}

// handlerList lists handlers with the nodes that serve them.
func (a *API) handlerList(w http.ResponseWriter, r *http.Request) error {
	handlers, err := a.svc.HandlerList(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"handlers": handlers})
	return nil
}
