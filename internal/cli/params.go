package cli

import (
	"encoding/json"
	"errors"

	"github.com/connecthub/connecthub"
)

// runParams builds the params of `job run` from --params-file (- for
// stdin) and --param pairs, which win (connecthub.BuildRunParams); nothing
// given is nil: a plain run.
func runParams(env *Env, file string, pairs []string) (json.RawMessage, error) {
	if file == "" && len(pairs) == 0 {
		return nil, nil
	}
	var object []byte
	if file != "" {
		var err error
		if object, err = readFileArg(env, file); err != nil {
			return nil, usageError("--params-file: %v", err)
		}
	}
	params, err := connecthub.BuildRunParams(object, pairs)
	if errors.Is(err, connecthub.ErrParamsNotObject) {
		return nil, usageError("--params-file %s: not a JSON object", file)
	} else if err != nil {
		return nil, usageError("--param %v", err)
	}
	return params, nil
}
