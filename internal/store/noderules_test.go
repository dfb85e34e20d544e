package store

import (
	"reflect"
	"testing"

	"github.com/connecthub/connecthub"
)

// TestMarkDead checks NodeMarkDead's rule: no rescue without dead nodes,
// the rescue gets every dead node's name, and the nodes come back by name.
func TestMarkDead(t *testing.T) {
	t.Parallel()
	nodes := func(names ...string) []*connecthub.Node {
		out := make([]*connecthub.Node, len(names))
		for i, n := range names {
			out[i] = &connecthub.Node{Name: n}
		}
		return out
	}
	called := false
	dead, rescued, err := MarkDead(func() ([]*connecthub.Node, error) { return nodes(), nil },
		func([]string) ([]*connecthub.Run, error) { called = true; return nil, nil })
	if err != nil || len(dead) != 0 || rescued != nil || called {
		t.Fatalf("no dead node: %v, %v, %v, rescue called %v", dead, rescued, err, called)
	}
	var asked []string
	dead, rescued, err = MarkDead(func() ([]*connecthub.Node, error) { return nodes("w2", "a", "w1"), nil },
		func(names []string) ([]*connecthub.Run, error) {
			asked = names
			return []*connecthub.Run{{ID: "r1"}}, nil
		})
	if err != nil || len(rescued) != 1 || !reflect.DeepEqual(asked, []string{"w2", "a", "w1"}) {
		t.Fatalf("MarkDead = %v, %v; rescue asked for %v", rescued, err, asked)
	}
	if got := []string{dead[0].Name, dead[1].Name, dead[2].Name}; !reflect.DeepEqual(got, []string{"a", "w1", "w2"}) {
		t.Errorf("dead nodes in order %v, want by name", got)
	}
}
