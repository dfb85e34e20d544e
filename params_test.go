package connecthub

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestApplyRunParams checks the merge patch with the examples of RFC 7396
// section 3 that apply to objects, and the errors.
func TestApplyRunParams(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, cfg, params, want, err string
	}{
		{"replace", `{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`, ""},
		{"add", `{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`, ""},
		{"remove", `{"a":"b"}`, `{"a":null}`, `{}`, ""},
		{"remove one", `{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`, ""},
		{"array replaces", `{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`, ""},
		{"scalar to array", `{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`, ""},
		{"nested", `{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`, ""},
		{"nested array of objects", `{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`, ""},
		{"deep", `{"e":null}`, `{"a":1}`, `{"a":1,"e":null}`, ""},
		{"into a non-object", `{"a":"foo"}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`, ""},
		{"empty params", `{"a":1}`, ``, `{"a":1}`, ""},
		{"null params", `{"a":1}`, `null`, `{"a":1}`, ""},
		{"empty cfg", ``, `{"month":"2026-11"}`, `{"month":"2026-11"}`, ""},
		{"not an object", `{}`, `[1]`, "", "params must be a JSON object"},
		{"not JSON", `{}`, `{"a":`, "", "params must be a JSON object"},
		{"too big", `{}`, `{"a":"` + strings.Repeat("x", MaxRunParamsBytes) + `"}`, "", "at most"},
	} {
		got, err := ApplyRunParams(json.RawMessage(tc.cfg), json.RawMessage(tc.params))
		if tc.err != "" {
			var e *Error
			if err == nil || !strings.Contains(err.Error(), tc.err) || !asError(err, &e) || e.Field != "params" {
				t.Errorf("%s: err %v, want a params field error with %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		var g, w any
		_ = json.Unmarshal(got, &g)
		_ = json.Unmarshal([]byte(tc.want), &w)
		gb, _ := json.Marshal(g)
		wb, _ := json.Marshal(w)
		if string(gb) != string(wb) {
			t.Errorf("%s: %s, want %s", tc.name, gb, wb)
		}
	}
}

func asError(err error, e **Error) bool {
	v, ok := err.(*Error)
	*e = v
	return ok
}

// TestBuildRunParams: pairs win over the object, JSON values keep their
// type and anything else is a string; a bad object or pair is refused.
func TestBuildRunParams(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, object string
		pairs        []string
		want         string
		err          error
	}{
		{"pairs only", "", []string{"month=2026-11", "limit=50", "full=true", `range={"from":"2026-11-01"}`}, `{"full":true,"limit":50,"month":"2026-11","range":{"from":"2026-11-01"}}`, nil},
		{"pair wins", `{"month":"2026-10","x":1}`, []string{"month=2026-11"}, `{"month":"2026-11","x":1}`, nil},
		{"object only", `{"a":[1]}`, nil, `{"a":[1]}`, nil},
		{"empty value", "", []string{"note="}, `{"note":""}`, nil},
		{"not an object", `[1]`, nil, "", ErrParamsNotObject},
		{"null object", `null`, nil, "", ErrParamsNotObject},
		{"no key", "", []string{"=1"}, "", &ParamPairError{"=1"}},
		{"no equals", "", []string{"month"}, "", &ParamPairError{"month"}},
	} {
		var object []byte
		if tc.object != "" {
			object = []byte(tc.object)
		}
		got, err := BuildRunParams(object, tc.pairs)
		if tc.err != nil {
			if err == nil || err.Error() != tc.err.Error() {
				t.Errorf("%s: err %v, want %v", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: %s, %v; want %s", tc.name, got, err, tc.want)
		}
	}
}
