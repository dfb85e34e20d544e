package notify

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/connecthub/connecthub/internal/testpg"
)

// TestMain fails the package's tests if a goroutine outlives them: a
// stopped sender or processor must leave nothing running.
func TestMain(m *testing.M) {
	code := m.Run()
	testpg.Close()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: goroutines left after the tests: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
