package pyimport

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
)

func TestTimestamp(t *testing.T) {
	t.Parallel()
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v.UTC()
	}
	for _, c := range []struct {
		in   any
		want time.Time // zero: nil
		bad  bool
	}{
		{in: nil},
		{in: ""},
		{in: "2024-05-01 10:00:00.123456", want: utc("2024-05-01T02:00:00.123456Z")}, // SQLAlchemy on SQLite: naive Shanghai
		{in: "2024-05-01 10:00:00", want: utc("2024-05-01T02:00:00Z")},
		{in: "2024-05-01T10:00:00", want: utc("2024-05-01T02:00:00Z")},
		{in: []byte("2024-05-01 10:00:00"), want: utc("2024-05-01T02:00:00Z")},
		{in: "2024-05-01 10:00:00+00", want: utc("2024-05-01T10:00:00Z")}, // timestamptz as PostgreSQL text
		{in: "2024-05-01 10:00:00.5+05:30", want: utc("2024-05-01T04:30:00.5Z")},
		{in: "2024-05-01T10:00:00Z", want: utc("2024-05-01T10:00:00Z")},
		{in: "1714557600", want: utc("2024-05-01T10:00:00Z")},
		{in: int64(1714557600000), want: utc("2024-05-01T10:00:00Z")},
		{in: "yesterday", bad: true},
	} {
		got, err := timestamp(c.in)
		switch {
		case c.bad:
			if err == nil {
				t.Errorf("timestamp(%v) = %v, want an error", c.in, got)
			}
		case err != nil:
			t.Errorf("timestamp(%v): %v", c.in, err)
		case c.want.IsZero() && got != nil:
			t.Errorf("timestamp(%v) = %v, want nil", c.in, got)
		case !c.want.IsZero() && (got == nil || !got.Equal(c.want)):
			t.Errorf("timestamp(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	if got := naiveText(utc("2024-05-01T02:00:00.5Z")); got != "2024-05-01 10:00:00.500000" {
		t.Errorf("naiveText = %q", got)
	}
}

func TestMapStatus(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]struct {
		status connecthub.RunStatus
		err    string
	}{
		"SUCCESS": {connecthub.StatusSuccess, ""},
		"FAILURE": {connecthub.StatusFailure, ""},
		"RUNNING": {connecthub.StatusFailure, ReasonImportedRunning},
		"STARTED": {connecthub.StatusFailure, ReasonImportedRunning},
		"PENDING": {connecthub.StatusCanceled, ReasonImportedQueued},
		"REVOKED": {connecthub.StatusCanceled, connecthub.ReasonCanceled},
		"SKIPPED": {connecthub.StatusSkipped, ""},
		"WEIRD":   {connecthub.StatusFailure, `imported with unknown status "WEIRD"`},
	} {
		st, err := mapStatus(in)
		if st != want.status || err != want.err {
			t.Errorf("mapStatus(%s) = %s, %q; want %s, %q", in, st, err, want.status, want.err)
		}
	}
}

func TestMapping(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, file := range []string{
		write("map.yaml", "# overrides\nextensions.reports.daily:DailyReportJob: httpcall\n\"extensions.sync_oa_to_didi.job.SyncOAToDidiTokenJob\": noop\n"),
		write("map.json", `{"extensions.reports.daily.DailyReportJob": "httpcall", "extensions.sync_oa_to_didi.job:SyncOAToDidiTokenJob": "noop"}`),
	} {
		over, err := LoadMapFile(file)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		m := NewMapping(over)
		for in, want := range map[string]string{
			"extensions.reports.daily:DailyReportJob":                       "httpcall",
			"extensions.reports.daily.DailyReportJob":                       "httpcall",
			"extensions.sync_oa_to_didi.job:SyncOAToDidiTokenJob":           "noop",
			"extensions.sync_oa_to_didi.job.SyncOAToDidiExportFormJob":      "sync_oa_to_didi.export_form",
			"extensions.sync_oa_to_didi.job:SyncOAToDidiLegalEntitySyncJob": "sync_oa_to_didi.legal_entity_sync",
			"extensions.other.mod.Job":                                      "py:extensions.other.mod.Job",
		} {
			if got := m.Handler(in); got != want {
				t.Errorf("%s: Handler(%s) = %s, want %s", filepath.Base(file), in, got, want)
			}
		}
	}
	for _, bad := range []string{write("list.yaml", "- a\n- b\n"), write("empty.json", `{"a": ""}`), filepath.Join(dir, "missing")} {
		if _, err := LoadMapFile(bad); err == nil {
			t.Errorf("LoadMapFile(%s) accepted it", filepath.Base(bad))
		}
	}
}
