package standard_test

import (
	"testing"

	"github.com/connecthub/connecthub/handler"
	_ "github.com/connecthub/connecthub/handlers/standard"
)

// TestDefaultRegistryHoldsTheStockHandlers checks that the blank import
// alone puts every stock handler into the default registry.
func TestDefaultRegistryHoldsTheStockHandlers(t *testing.T) {
	t.Parallel()
	for _, name := range []string{
		"noop", "sleep", "httpcall", "shell",
		"sync_oa_to_didi.token", "sync_oa_to_didi.export_form", "sync_oa_to_didi.legal_entity_sync",
	} {
		if _, ok := handler.Default().Lookup(name); !ok {
			t.Errorf("handler %q is not in the default registry", name)
		}
	}
}
