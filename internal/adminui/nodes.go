package adminui

import (
	"context"
	"errors"
	"net/http"
	"sort"

	"github.com/connecthub/connecthub"
)

// nodesView is the data of the nodes page and the dashboard's nodes card.
type nodesView struct {
	// Available is false while there is no node registry (Config.Nodes is
	// nil): the page then explains that this server runs its own workers.
	Available bool
	Nodes     []*connecthub.Node
	// Error is set when the registry could not be read; the rest of the
	// page still works.
	Error bool
	Local string
}

// nodeList reads the registry, if there is one. A failure is logged and
// shown as a notice, not as an error page, because the dashboard that
// embeds the list is useful without it.
func (u *UI) nodeList(ctx context.Context) nodesView {
	nv := nodesView{Available: u.cfg.Nodes != nil, Local: u.cfg.Node}
	if !nv.Available {
		return nv
	}
	nodes, err := u.cfg.Nodes.NodeList(ctx)
	var e *connecthub.Error
	if errors.As(err, &e) && e.Code == "no_node_registry" {
		nv.Available = false
		return nv
	}
	if err != nil {
		u.log.Error("list nodes", "err", err)
		nv.Error = true
		return nv
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	nv.Nodes = nodes
	return nv
}

// nodes shows the worker registry.
func (u *UI) nodes(w http.ResponseWriter, r *http.Request) {
	u.render(w, r, http.StatusOK, "nodes", u.page(w, r, "nodes", "nodes.title", u.nodeList(r.Context())))
}
