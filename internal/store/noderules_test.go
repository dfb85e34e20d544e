package store

import (
	"reflect"
	"testing"
	"time"

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
	txs := 0
	inTx := func(fn func(int) error) error { txs++; return fn(txs) }
	now := time.Date(2031, 3, 14, 9, 0, 0, 0, time.UTC)
	before := now.Add(-time.Minute)
	if _, _, err := MarkDead(inTx, time.Time{}, now, nil, nil); !connecthub.IsKind(err, connecthub.KindInvalid) || txs != 0 {
		t.Fatalf("MarkDead without dead_before = %v after %d transactions, want KindInvalid before any", err, txs)
	}
	called := false
	dead, rescued, err := MarkDead(inTx, before, now, func(int) ([]*connecthub.Node, error) { return nodes(), nil },
		func(int, []string) ([]*connecthub.Run, error) { called = true; return nil, nil })
	if err != nil || len(dead) != 0 || rescued != nil || called {
		t.Fatalf("no dead node: %v, %v, %v, rescue called %v", dead, rescued, err, called)
	}
	var (
		asked    []string
		rescueTx int
	)
	dead, rescued, err = MarkDead(inTx, before, now, func(int) ([]*connecthub.Node, error) { return nodes("w2", "a", "w1"), nil },
		func(tx int, names []string) ([]*connecthub.Run, error) {
			rescueTx = tx
			asked = names
			return []*connecthub.Run{{ID: "r1"}}, nil
		})
	if err != nil || len(rescued) != 1 || !reflect.DeepEqual(asked, []string{"w2", "a", "w1"}) || rescueTx != txs {
		t.Fatalf("MarkDead = %v, %v; rescue asked for %v in transaction %d of %d", rescued, err, asked, rescueTx, txs)
	}
	if got := []string{dead[0].Name, dead[1].Name, dead[2].Name}; !reflect.DeepEqual(got, []string{"a", "w1", "w2"}) {
		t.Errorf("dead nodes in order %v, want by name", got)
	}
}
