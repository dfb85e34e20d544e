package jobfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
)

// publishedSchema is the schema editors and CI use.
const publishedSchema = "../../docs/jobs.schema.json"

// TestPublishedSchemaIsCurrent: docs/jobs.schema.json is what Schema
// generates from the job's fields. Regenerate it with
// CONNECTHUB_UPDATE_SCHEMA=1 go test ./internal/jobfile/ after a field is
// added to connecthub.Job.
func TestPublishedSchemaIsCurrent(t *testing.T) {
	t.Parallel()
	want := Schema()
	if os.Getenv("CONNECTHUB_UPDATE_SCHEMA") == "1" {
		if err := os.WriteFile(publishedSchema, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(publishedSchema)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is not what Schema() generates; run CONNECTHUB_UPDATE_SCHEMA=1 go test ./internal/jobfile/", publishedSchema)
	}
}

// TestSchemaAgreesWithDecoder: every field the schema allows is one the
// job decoder accepts, and a field the schema does not know is refused by
// both, so that the schema never passes a file the server refuses for an
// unknown field, nor refuses a field the server takes.
func TestSchemaAgreesWithDecoder(t *testing.T) {
	t.Parallel()
	var doc struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(Schema(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Properties) != len(Fields()) {
		t.Errorf("schema has %d properties, Fields() %d", len(doc.Properties), len(Fields()))
	}
	for _, name := range Fields() {
		if _, ok := doc.Properties[name]; !ok {
			t.Errorf("field %s is not in the schema", name)
		}
		_, err := connecthub.DecodeJobInput([]byte(`{"` + name + `": null}`))
		var e *connecthub.Error
		if errors.As(err, &e) && e.Code == "unknown_field" {
			t.Errorf("the schema allows %s, the job decoder does not know it", name)
		}
	}
	for _, name := range []string{"cron", "next_run_at", "secret_keys", "created_at"} {
		err := checkSchema([]byte(`{"id":"a","handler":"noop","` + name + `":"x"}`))
		var e *connecthub.Error
		if !errors.As(err, &e) || e.Field != name || e.Code != "unknown_field" {
			t.Errorf("schema on field %s: %v, want unknown_field naming it", name, err)
		}
	}
	if _, err := connecthub.DecodeJobInput([]byte(`{"cron": "x"}`)); err == nil {
		t.Error("the job decoder accepts an unknown field")
	}
}

// TestExportLoadsBack: what Export writes, Load reads as the same
// definition, with the secret references resolved.
func TestExportLoadsBack(t *testing.T) {
	t.Parallel()
	j := &connecthub.Job{ID: "oa.sync", Description: "two\nlines", Enabled: true, CronExpr: "*/5 * * * *", Timezone: "Asia/Shanghai",
		Handler: "noop", PublicCfg: json.RawMessage(`{"z":1,"a":{"y":[1,"x"],"b":true},"big":12345678901}`), SecretKeys: []string{"password", "api-key"},
		Timeout: connecthub.Duration(90 * time.Second), MaxAttempts: 3, RetryBackoff: connecthub.Duration(time.Minute),
		Concurrency: connecthub.ConcurrencyAllow, Misfire: connecthub.MisfireAll, MisfireWindow: connecthub.Duration(time.Hour), Queue: "q", Priority: -2}
	var buf bytes.Buffer
	now := time.Date(2026, 12, 7, 1, 2, 0, 0, time.UTC)
	if err := Export(&buf, []*connecthub.Job{j}, now); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.HasPrefix(out, "# job oa.sync: next fires 2026-12-07 09:05:00 +08:00, 2026-12-07 09:10:00 +08:00, 2026-12-07 09:15:00 +08:00\n") {
		t.Errorf("export does not start with the fire times:\n%s", out)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "jobs.yaml")
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"OA_SYNC_PASSWORD": "pw", "OA_SYNC_API_KEY": "key"}
	set, err := Load([]string{dir}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(set.Documents) != 1 || !strings.HasPrefix(set.Source.Hash, "sha256:") || set.Source.Files[0] != filepath.ToSlash(file) {
		t.Fatalf("set = %+v", set)
	}
	in, err := connecthub.DecodeJobInput(set.Documents[0].Job)
	if err != nil {
		t.Fatal(err)
	}
	back, sc, err := connecthub.NewJob(in, connecthub.JobDefaults{Timezone: "UTC"}, now)
	if err != nil {
		t.Fatal(err)
	}
	back.SecretKeys, back.HasSecret, back.CreatedAt, back.UpdatedAt = j.SecretKeys, false, time.Time{}, time.Time{}
	want, _ := json.Marshal(j)
	got, _ := json.Marshal(back)
	var wm, gm map[string]any
	_ = json.Unmarshal(want, &wm)
	_ = json.Unmarshal(got, &gm)
	wm["public_cfg"], gm["public_cfg"] = canonicalText(j.PublicCfg), canonicalText(back.PublicCfg)
	// An absent list reads back as an empty one: the same job.
	for _, m := range []map[string]any{wm, gm} {
		for k, v := range m {
			if l, ok := v.([]any); ok && len(l) == 0 {
				m[k] = nil
			}
		}
	}
	wj, _ := json.Marshal(wm)
	gj, _ := json.Marshal(gm)
	if !bytes.Equal(wj, gj) {
		t.Errorf("loaded back:\n%s\nwant\n%s", gj, wj)
	}
	if !sc.Set || sc.Value["password"] != "pw" || sc.Value["api-key"] != "key" {
		t.Errorf("secrets = %+v", sc)
	}
	// The same files hash the same; a changed file does not.
	again, _ := Load([]string{dir}, func(k string) string { return env[k] })
	if again.Source.Hash != set.Source.Hash {
		t.Error("the hash of unchanged files changed")
	}
	if err := os.WriteFile(file, append(buf.Bytes(), '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	if changed, _ := Load([]string{dir}, func(k string) string { return env[k] }); changed.Source.Hash == set.Source.Hash {
		t.Error("the hash did not change with the file")
	}
}

func canonicalText(raw json.RawMessage) string {
	var v any
	_ = json.Unmarshal(raw, &v)
	b, _ := json.Marshal(v)
	return string(b)
}

// TestLoadReportsEveryProblem: every bad document is named, with its
// file and position; secret values never appear.
func TestLoadReportsEveryProblem(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := map[string]string{
		"a.yaml":         "id: a\nhandler: noop\n---\nid: b\nhandler: noop\nbogus: 1\n",
		"sub/b.yml":      "---\n# only a comment\n---\nid: c\nhandler: noop\nsecret_cfg:\n  pw: ${MISSING}\n",
		".hidden/x.yaml": "not: loaded\n",
		"notes.txt":      "ignored",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := Load([]string{dir}, func(string) string { return "" })
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 2 {
		t.Fatalf("Load = %v, want 2 problems", err)
	}
	msg := err.Error()
	for _, want := range []string{"a.yaml, document 2, job b): unknown field \"bogus\"", "b.yml, document 1, job c): environment variable MISSING is not set"} {
		if !strings.Contains(msg, want) {
			t.Errorf("problems lack %q:\n%s", want, msg)
		}
	}
}
