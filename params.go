package connecthub

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// MaxRunParamsBytes bounds the params of one run-now: they are copied into
// the run's snapshot, which every claim reads.
const MaxRunParamsBytes = 64 << 10

// HasRunParams reports whether a run-now carries params: empty and null
// are none.
func HasRunParams(params json.RawMessage) bool {
	p := bytes.TrimSpace(params)
	return len(p) > 0 && !bytes.Equal(p, []byte("null"))
}

// ApplyRunParams merges a run-now's params over a job's public_cfg as a
// JSON merge patch (RFC 7396): an object merges key by key, recursively; a
// null removes the key; any other value replaces it. params must be a JSON
// object (or empty, which changes nothing); the error names the params
// field. The result is compact JSON.
func ApplyRunParams(publicCfg, params json.RawMessage) (json.RawMessage, error) {
	if !HasRunParams(params) {
		return publicCfg, nil
	}
	params = bytes.TrimSpace(params)
	if len(params) > MaxRunParamsBytes {
		return nil, FieldError("params", "", "params must be at most %d bytes", MaxRunParamsBytes)
	}
	var patch map[string]any
	if err := json.Unmarshal(params, &patch); err != nil || patch == nil {
		return nil, FieldError("params", "", "params must be a JSON object")
	}
	var target map[string]any
	if len(bytes.TrimSpace(publicCfg)) > 0 {
		if err := json.Unmarshal(publicCfg, &target); err != nil {
			return nil, FieldError("public_cfg", "", "public_cfg must be a JSON object")
		}
	}
	out, err := json.Marshal(mergePatch(target, patch))
	if err != nil {
		return nil, err
	}
	return out, nil
}

// mergePatch applies patch to target as RFC 7396 describes.
func mergePatch(target, patch map[string]any) map[string]any {
	if target == nil {
		target = map[string]any{}
	}
	for k, v := range patch {
		switch pv := v.(type) {
		case nil:
			delete(target, k)
		case map[string]any:
			tv, _ := target[k].(map[string]any)
			target[k] = mergePatch(tv, pv)
		default:
			target[k] = v
		}
	}
	return target
}

// ErrParamsNotObject is BuildRunParams' answer to params that are not a
// JSON object.
var ErrParamsNotObject = errors.New("not a JSON object")

// ParamPairError is a key=value parameter without a key or an "=".
type ParamPairError struct{ Pair string }

func (e *ParamPairError) Error() string { return fmt.Sprintf("%q: want key=value", e.Pair) }

// BuildRunParams builds a run-now's params from an object (JSON; nil for
// none) and key=value pairs, which win over it, as the command line and
// scripts give them. A value that is valid JSON is taken as such
// (limit=50 is a number, full=true a boolean, range={"from":"2026-11-01"}
// an object); anything else is a string, so month=2026-11 needs no quotes.
func BuildRunParams(object []byte, pairs []string) (json.RawMessage, error) {
	params := map[string]any{}
	if object != nil {
		if err := json.Unmarshal(object, &params); err != nil || params == nil {
			return nil, ErrParamsNotObject
		}
	}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, &ParamPairError{p}
		}
		var parsed any
		if err := json.Unmarshal([]byte(v), &parsed); err == nil {
			params[k] = parsed
		} else {
			params[k] = v
		}
	}
	return json.Marshal(params)
}
