package cli

import (
	"encoding/json"
	"io"
	"os"
	"strings"
)

// runParams builds the params of `job run` from --params-file (a JSON
// object, - for stdin) and --param k=v flags, which win over the file. A
// value that is valid JSON is taken as such (--param limit=50 is a number,
// --param full=true a boolean, --param 'range={"from":"2026-11-01"}' an
// object); anything else is a string. Nothing given is nil: a plain run.
func runParams(env *Env, file string, pairs []string) (json.RawMessage, error) {
	params := map[string]any{}
	if file != "" {
		var data []byte
		var err error
		if file == "-" {
			data, err = io.ReadAll(env.Stdin)
		} else {
			data, err = os.ReadFile(file)
		}
		if err != nil {
			return nil, usageError("--params-file: %v", err)
		}
		if err := json.Unmarshal(data, &params); err != nil || params == nil {
			return nil, usageError("--params-file %s: not a JSON object", file)
		}
	}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, usageError("--param %q: want key=value", p)
		}
		var parsed any
		if err := json.Unmarshal([]byte(v), &parsed); err == nil {
			params[k] = parsed
		} else {
			params[k] = v
		}
	}
	if file == "" && len(pairs) == 0 {
		return nil, nil
	}
	return json.Marshal(params)
}
