package store

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
)

// snapshotSamples are snapshots as the store writes them: DecodeSnapshot's
// reader must take each without falling back to encoding/json.
func snapshotSamples(t testing.TB) [][]byte {
	t.Helper()
	at := time.Date(2031, 3, 14, 9, 26, 53, 123456789, time.UTC)
	snaps := []connecthub.Snapshot{
		{},
		{Handler: "noop", PublicCfg: json.RawMessage(`{}`), MaxAttempts: 1, Meta: connecthub.SnapshotMeta{Trigger: connecthub.TriggerAPI, ScheduledFor: at}},
		{
			Handler: "http.request", PublicCfg: json.RawMessage(` {"url": "https://example.test/a?b=c", "n": [1, -2.5e3, true, null, {"x": "\u00e9\"\\"}]} `),
			SecretKeys: []string{"token", "pässword"}, HasSecret: true, Timeout: connecthub.Duration(90 * time.Second),
			MaxAttempts: 5, RetryBackoff: connecthub.Duration(1500 * time.Millisecond), SecretCfg: "never-written",
			Meta: connecthub.SnapshotMeta{Trigger: connecthub.TriggerRetry, RetryOf: "01J0000000000000000000000", ScheduledFor: at, RequestedBy: "ops@example.test"},
		},
		{Handler: "日本語", SecretKeys: []string{}, PublicCfg: json.RawMessage(`[]`), MaxAttempts: -3, Meta: connecthub.SnapshotMeta{Trigger: connecthub.TriggerCron}},
	}
	var out [][]byte
	for _, s := range snaps {
		enc, err := encodeSnapshot(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, []byte(enc))
	}
	return out
}

// snapshotOddities are inputs the store never writes but a database could
// hold: DecodeSnapshot must still answer exactly as encoding/json does.
var snapshotOddities = []string{
	``, `null`, `{}`, ` { } `, `[]`, `"x"`, `{"handler":"a"} x`, `{"handler":"a",}`, `{"handler":"a"`,
	`{"Handler":"case folded"}`, `{"HANDLER":"a","handler":"b"}`, `{"unknown":1,"handler":"a"}`,
	`{"handler":"esc\"aped"}`, `{"handler":"\u0041"}`, "{\"handler\":\"bad\xffutf8\"}", "{\"handler\":\"tab\tin\"}",
	`{"handler":null}`, `{"handler":1}`, `{"handler":"a","handler":"b"}`,
	`{"public_cfg":null}`, `{"public_cfg":{"a":[1,{"b":"\ud83d\ude00"}]}}`, `{"public_cfg":"str"}`, `{"public_cfg":01}`,
	`{"public_cfg":1.}`, `{"public_cfg":-}`, `{"public_cfg":1e}`, `{"public_cfg":[1,]}`, `{"public_cfg":{"a"}}`,
	`{"public_cfg":"\x"}`, `{"public_cfg":"\u12"}`, "{\"public_cfg\":\"a\x01\"}", `{"public_cfg":tru}`, `{"public_cfg":nul}`,
	`{"public_cfg":{"a":1},"public_cfg":[2]}`, "{\"public_cfg\":\"\xff\"}",
	`{"secret_keys":null}`, `{"secret_keys":[]}`, `{"secret_keys":["a","b"]}`, `{"secret_keys":["a",1]}`, `{"secret_keys":["a"],"secret_keys":[]}`,
	`{"secret_keys":"a"}`, `{"secret_keys":["\n"]}`,
	`{"has_secret":true}`, `{"has_secret":false}`, `{"has_secret":null}`, `{"has_secret":1}`, `{"has_secret":truex}`,
	`{"timeout":"90s"}`, `{"timeout":""}`, `{"timeout":" 1h "}`, `{"timeout":90}`, `{"timeout":1.5}`, `{"timeout":null}`, `{"timeout":"soon"}`, `{"timeout":"1\u0068"}`,
	`{"max_attempts":3}`, `{"max_attempts":-1}`, `{"max_attempts":0}`, `{"max_attempts":-0}`, `{"max_attempts":03}`, `{"max_attempts":1.0}`,
	`{"max_attempts":1e2}`, `{"max_attempts":99999999999999999999}`, `{"max_attempts":"3"}`, `{"max_attempts":null}`,
	`{"retry_backoff":"1m"}`, `{"retry_backoff":"-1m"}`,
	`{"meta":null}`, `{"meta":{}}`, `{"meta":{"trigger":"cron","scheduled_for":"2031-03-14T09:26:53.123456Z"}}`,
	`{"meta":{"scheduled_for":"2031-03-14T09:26:53+02:00"}}`, `{"meta":{"scheduled_for":"yesterday"}}`, `{"meta":{"scheduled_for":null}}`,
	`{"meta":{"trigger":"a"},"meta":{"retry_of":"b"}}`, `{"meta":{"Trigger":"a"}}`, `{"meta":{"extra":1}}`, `{"meta":[]}`,
	"\t{\n\"handler\" :\r\"a\" , \"meta\" : { \"requested_by\" : \"me\" } }\n",
}

// checkDecodeSnapshot compares DecodeSnapshot with json.Unmarshal on b.
func checkDecodeSnapshot(t *testing.T, b []byte) {
	t.Helper()
	got := connecthub.Snapshot{SecretCfg: "token"}
	want := connecthub.Snapshot{SecretCfg: "token"}
	gotErr := DecodeSnapshot(b, &got)
	wantErr := json.Unmarshal(b, &want)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("%q: error %v, encoding/json says %v", b, gotErr, wantErr)
	}
	if wantErr != nil {
		return
	}
	// time.Time values with equal instants and zones may hold different
	// *Location pointers; compare them apart.
	gotName, gotOff := got.Meta.ScheduledFor.Zone()
	wantName, wantOff := want.Meta.ScheduledFor.Zone()
	if !got.Meta.ScheduledFor.Equal(want.Meta.ScheduledFor) || gotName != wantName || gotOff != wantOff {
		t.Fatalf("%q: scheduled_for %v, encoding/json says %v", b, got.Meta.ScheduledFor, want.Meta.ScheduledFor)
	}
	got.Meta.ScheduledFor, want.Meta.ScheduledFor = time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\ngot  %#v\nwant %#v", b, got, want)
	}
	if (got.SecretKeys == nil) != (want.SecretKeys == nil) || (got.PublicCfg == nil) != (want.PublicCfg == nil) {
		t.Fatalf("%q: nil-ness differs: got %#v, want %#v", b, got, want)
	}
}

func TestDecodeSnapshotMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, b := range snapshotSamples(t) {
		var s connecthub.Snapshot
		if r := (snapshotReader{b: b}); !r.snapshot(&s) {
			t.Errorf("the fast reader gave up on the store's own encoding %s", b)
		}
		checkDecodeSnapshot(t, b)
	}
	for _, b := range snapshotOddities {
		checkDecodeSnapshot(t, []byte(b))
	}
}

func FuzzDecodeSnapshot(f *testing.F) {
	for _, b := range snapshotSamples(f) {
		f.Add(b)
	}
	for _, b := range snapshotOddities {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkDecodeSnapshot(t, b)
	})
}

func BenchmarkDecodeSnapshot(b *testing.B) {
	sample := snapshotSamples(b)[2]
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var s connecthub.Snapshot
			if err := DecodeSnapshot(sample, &s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var s connecthub.Snapshot
			if err := json.Unmarshal(sample, &s); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// encodeSnapshot writes a snapshot as the drivers do (their encodeSnapshot:
// json.Marshal with the meta time in UTC at microsecond precision).
func encodeSnapshot(s connecthub.Snapshot) (string, error) {
	s.Meta.ScheduledFor = s.Meta.ScheduledFor.UTC().Truncate(time.Microsecond)
	if len(bytes.TrimSpace(s.PublicCfg)) == 0 {
		s.PublicCfg = nil
	}
	b, err := json.Marshal(s)
	return string(b), err
}
