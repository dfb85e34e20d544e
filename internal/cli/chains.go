package cli

import (
	"strings"

	"github.com/connecthub/connecthub"
)

// printChains adds a job's chain lists to `job get`'s rows, when it has
// any.
func printChains(row func(k, v string), j *connecthub.Job) {
	if !j.HasChains() {
		return
	}
	row("on success", dash(strings.Join(j.OnSuccess, ", ")))
	row("on failure", dash(strings.Join(j.OnFailure, ", ")))
}
