package connecthub_test

import (
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
)

func TestDecodeAndValidateJob(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	defaults := connecthub.JobDefaults{Timezone: "Asia/Shanghai"}
	cases := []struct {
		name, body string
		field      string // "" = valid
		msg        string
	}{
		{"minimal", `{"id":"a","handler":"noop"}`, "", ""},
		{"full", `{"id":"oa.sync-legal_entity:1","handler":"noop","cron_expr":"0 */5 * * * *","timezone":"Europe/London","public_cfg":{"a":1},"secret_cfg":{"k":"v"},"timeout":"90s","max_attempts":3,"retry_backoff":5,"concurrency":"allow","misfire":"all","misfire_window":"0s","queue":"q.1","priority":-5,"enabled":false,"description":"d"}`, "", ""},
		{"read-only ignored", `{"id":"a","handler":"noop","next_run_at":"x","secret_keys":["k"]}`, "", ""},
		{"empty body", ``, "", "request body"},
		{"missing id", `{"handler":"noop"}`, "id", "id is required"},
		{"id too long", `{"id":"` + strings.Repeat("a", 129) + `","handler":"noop"}`, "id", "1-128"},
		{"id bad char", `{"id":"a/b","handler":"noop"}`, "id", ""},
		{"id number", `{"id":1,"handler":"noop"}`, "id", "must be a string"},
		{"no handler", `{"id":"a"}`, "handler", "handler is required"},
		{"cron bad", `{"id":"a","handler":"noop","cron_expr":"* * *"}`, "cron_expr", ""},
		{"cron never", `{"id":"a","handler":"noop","cron_expr":"0 0 30 2 *"}`, "cron_expr", "never fires"},
		{"tz bad", `{"id":"a","handler":"noop","timezone":"Moon/Base"}`, "timezone", "unknown timezone"},
		{"tz local", `{"id":"a","handler":"noop","timezone":"Local"}`, "timezone", ""},
		{"public array", `{"id":"a","handler":"noop","public_cfg":[]}`, "public_cfg", "public_cfg must be a JSON object"},
		{"public null", `{"id":"a","handler":"noop","public_cfg":null}`, "public_cfg", "public_cfg must be a JSON object"},
		{"public string", `{"id":"a","handler":"noop","public_cfg":"{}"}`, "public_cfg", "public_cfg must be a JSON object"},
		{"secret string", `{"id":"a","handler":"noop","secret_cfg":"x"}`, "secret_cfg", "secret_cfg must be a JSON object"},
		{"secret null ok", `{"id":"a","handler":"noop","secret_cfg":null}`, "", ""},
		{"timeout negative", `{"id":"a","handler":"noop","timeout":"-1s"}`, "timeout", ""},
		{"timeout junk", `{"id":"a","handler":"noop","timeout":"later"}`, "timeout", ""},
		{"attempts 0", `{"id":"a","handler":"noop","max_attempts":0}`, "max_attempts", ""},
		{"attempts 101", `{"id":"a","handler":"noop","max_attempts":101}`, "max_attempts", ""},
		{"attempts float", `{"id":"a","handler":"noop","max_attempts":1.5}`, "max_attempts", ""},
		{"concurrency", `{"id":"a","handler":"noop","concurrency":"x"}`, "concurrency", ""},
		{"misfire", `{"id":"a","handler":"noop","misfire":"x"}`, "misfire", ""},
		{"queue empty", `{"id":"a","handler":"noop","queue":""}`, "queue", ""},
		{"queue space", `{"id":"a","handler":"noop","queue":"a b"}`, "queue", ""},
		{"priority huge", `{"id":"a","handler":"noop","priority":10000000}`, "priority", ""},
		{"enabled string", `{"id":"a","handler":"noop","enabled":"yes"}`, "enabled", ""},
		{"unknown", `{"id":"a","handler":"noop","colour":"red"}`, "colour", "unknown field"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in, err := connecthub.DecodeJobInput([]byte(tc.body))
			var j *connecthub.Job
			if err == nil {
				j, _, err = connecthub.NewJob(in, defaults, now)
			}
			if err == nil {
				err = j.Validate()
			}
			if tc.field == "" && tc.msg == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("expected an error")
			}
			if !connecthub.IsKind(err, connecthub.KindInvalid) {
				t.Errorf("kind %s, want invalid", connecthub.ErrorKind(err))
			}
			e := err.(*connecthub.Error)
			if e.Field != tc.field {
				t.Errorf("field %q, want %q (%v)", e.Field, tc.field, err)
			}
			if !strings.Contains(e.Message, tc.msg) {
				t.Errorf("message %q does not contain %q", e.Message, tc.msg)
			}
		})
	}
}

func TestJobDefaultsAndSecretRules(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	in, err := connecthub.DecodeJobInput([]byte(`{"id":"a","handler":"noop","secret_cfg":{"b":"2","a":"1"}}`))
	if err != nil {
		t.Fatal(err)
	}
	j, sc, err := connecthub.NewJob(in, connecthub.JobDefaults{Timezone: "UTC"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !j.Enabled || j.MaxAttempts != 1 || j.Concurrency != "forbid" || j.Misfire != "once" || j.Queue != "default" ||
		j.MisfireWindow.D() != time.Hour || j.RetryBackoff.D() != 10*time.Second || string(j.PublicCfg) != "{}" || j.Timezone != "UTC" {
		t.Errorf("defaults: %+v", j)
	}
	if !sc.Set || len(sc.Value) != 2 || strings.Join(j.SecretKeys, ",") != "a,b" || !j.HasSecret {
		t.Errorf("secret change %+v keys %v", sc, j.SecretKeys)
	}
	patch, _ := connecthub.DecodeJobInput([]byte(`{"id":"b"}`))
	if _, err := patch.ApplyTo(j, now); err == nil || !strings.Contains(err.Error(), "cannot be changed") {
		t.Errorf("id change: %v", err)
	}
}

func TestDurationJSON(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{`"90s"`: 90 * time.Second, `"1h30m"`: 90 * time.Minute, `""`: 0, `2.5`: 2500 * time.Millisecond, `null`: 0} {
		var d connecthub.Duration
		if err := d.UnmarshalJSON([]byte(in)); err != nil || d.D() != want {
			t.Errorf("%s: %v %v", in, d, err)
		}
	}
	var d connecthub.Duration
	if err := d.UnmarshalJSON([]byte(`"soon"`)); err == nil {
		t.Error("bad duration accepted")
	}
	if b, _ := connecthub.Duration(90 * time.Second).MarshalJSON(); string(b) != `"1m30s"` {
		t.Errorf("marshal: %s", b)
	}
}
