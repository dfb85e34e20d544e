package main

import (
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub/cron"
)

func TestParseOptions(t *testing.T) {
	t.Parallel()
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "CONNECTHUB_TEST_POSTGRES_URL" {
				return v
			}
			return ""
		}
	}
	tests := []struct {
		name    string
		args    []string
		env     string
		check   func(t *testing.T, o options)
		wantErr string
	}{
		{name: "defaults are issue 3's", args: nil, env: "postgres://h/db", check: func(t *testing.T, o options) {
			if !reflect.DeepEqual(o.drivers, []string{"sqlite", "postgres"}) || o.n != 20000 || !reflect.DeepEqual(o.cs, []int{50, 2000}) ||
				o.repeat != 3 || o.latN != 500 || o.latRate != 100 || o.cronJobs != 10000 || !reflect.DeepEqual(o.kinds, allKinds) {
				t.Errorf("defaults: %+v", o)
			}
			if o.pgURL != "postgres://h/db" {
				t.Errorf("pgURL = %q, want the environment's", o.pgURL)
			}
		}},
		{name: "flag wins over the environment", args: []string{"-pg-url", "postgres://flag/db", "-driver", "postgres"}, env: "postgres://env/db",
			check: func(t *testing.T, o options) {
				if o.pgURL != "postgres://flag/db" || !reflect.DeepEqual(o.drivers, []string{"postgres"}) {
					t.Errorf("got %+v", o)
				}
			}},
		{name: "subset and sizes", args: []string{"-only", "work,insert", "-n", "7", "-c", "3", "-repeat", "1"}, check: func(t *testing.T, o options) {
			if !reflect.DeepEqual(o.kinds, []string{kindInsert, kindWork}) || o.n != 7 || !reflect.DeepEqual(o.cs, []int{3}) || o.repeat != 1 {
				t.Errorf("got %+v", o)
			}
		}},
		{name: "bad driver", args: []string{"-driver", "mysql"}, wantErr: "-driver must be"},
		{name: "bad c", args: []string{"-c", "50,x"}, wantErr: "-c must be"},
		{name: "zero c", args: []string{"-c", "0"}, wantErr: "-c must be"},
		{name: "duplicate c", args: []string{"-c", "5,5"}, wantErr: "twice"},
		{name: "bad only", args: []string{"-only", "work,speed"}, wantErr: `unknown measurement "speed"`},
		{name: "zero n", args: []string{"-n", "0"}, wantErr: "-n must be positive"},
		{name: "negative repeat", args: []string{"-repeat", "-1"}, wantErr: "-repeat must be positive"},
		{name: "zero timeout", args: []string{"-timeout", "0s"}, wantErr: "-timeout must be positive"},
		{name: "stray argument", args: []string{"extra"}, wantErr: "unexpected arguments"},
		{name: "unknown flag", args: []string{"-fast"}, wantErr: "not defined"},
		{name: "history kept", args: []string{"-driver", "postgres", "-only", "history", "-history-keep", "hist_10m"}, check: func(t *testing.T, o options) {
			if o.historyKeep != "hist_10m" {
				t.Errorf("historyKeep = %q", o.historyKeep)
			}
		}},
		{name: "history kept without the history", args: []string{"-driver", "sqlite", "-only", "work", "-history-keep", "/tmp/h.db"}, wantErr: "add history to -only"},
		{name: "history kept for two drivers", args: []string{"-only", "history", "-history-keep", "/tmp/h.db"}, wantErr: "names one database"},
		{name: "history kept in a bad database name", args: []string{"-driver", "postgres", "-only", "history", "-history-keep", "Hist-1"}, wantErr: "not a PostgreSQL database name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o, err := parseOptions(tt.args, env(tt.env), io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, o)
		})
	}
}

func TestPlan(t *testing.T) {
	t.Parallel()
	o := options{n: 100, cs: []int{50, 2000, 7}, kinds: allKinds, latN: 10, latRate: 5, cronJobs: 30, historyN: 40}
	got := plan(systemPostgres, o)
	want := []spec{
		{System: systemPostgres, Kind: kindInsert, N: 100},
		{System: systemPostgres, Kind: kindWork, N: 100, C: 50},
		{System: systemPostgres, Kind: kindWork, N: 100, C: 2000},
		{System: systemPostgres, Kind: kindWork, N: 100, C: 7},
		{System: systemPostgres, Kind: kindLatency, N: 10, C: defaultWorkers, Rate: 5},
		{System: systemPostgres, Kind: kindCron, N: 30, C: 2000},
		{System: systemPostgres, Kind: kindHistory, N: 40},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("plan:\n got %+v\nwant %+v", got, want)
	}
	if got[0].label() != "insert" || got[1].label() != "work c=50" {
		t.Errorf("labels: %q, %q", got[0].label(), got[1].label())
	}
	if got[0].driver() != "postgres" || (spec{System: systemSQLite}).driver() != "sqlite" {
		t.Error("driver mapping is wrong")
	}
	// The history's build gets time in proportion to its size; the others
	// keep -timeout.
	if d := (spec{Kind: kindHistory, N: 10_000_000}).timeout(5 * time.Minute); d != 5*time.Minute+2000*time.Second {
		t.Errorf("the timeout of a history of 10M runs = %s", d)
	}
	if d := got[1].timeout(5 * time.Minute); d != 5*time.Minute {
		t.Errorf("the timeout of a work measurement = %s", d)
	}
}

func TestChildArgsRoundTrip(t *testing.T) {
	t.Parallel()
	a := childArgs{
		spec: spec{System: systemPostgres, Kind: kindLatency, N: 500, C: 20, Rate: 100},
		dsn:  "postgres://h/db1", adminURL: "postgres://h/postgres", db: "db1", dir: "/tmp/x",
		cpuProfile: "/tmp/prof", tag: "rep2", timeout: 90 * time.Second, keyPath: "/tmp/h.key",
	}
	args := a.flags()
	if args[0] != childFlag {
		t.Fatalf("flags must start with %s: %v", childFlag, args)
	}
	got, err := parseChildArgs(args[1:])
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, a) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, a)
	}
}

func TestParseChildArgsRejects(t *testing.T) {
	t.Parallel()
	base := childArgs{spec: spec{System: systemSQLite, Kind: kindWork, N: 10, C: 2}, dsn: "/tmp/x.db", dir: "/tmp", timeout: time.Minute}
	tests := []struct {
		name    string
		mutate  func(*childArgs)
		wantErr string
	}{
		{"system", func(a *childArgs) { a.System = "mysql" }, "unknown system"},
		{"kind", func(a *childArgs) { a.Kind = "speed" }, "unknown measurement"},
		{"n", func(a *childArgs) { a.N = 0 }, "-n must be positive"},
		{"c for work", func(a *childArgs) { a.C = 0 }, "-c must be positive"},
		{"rate for latency", func(a *childArgs) { a.Kind, a.Rate = kindLatency, 0 }, "-rate must be positive"},
		{"dsn", func(a *childArgs) { a.dsn = "" }, "-dsn and -dir"},
		{"postgres admin", func(a *childArgs) { a.System = systemPostgres }, "-admin-url and -db"},
		{"timeout", func(a *childArgs) { a.timeout = -time.Second }, "-timeout must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := base
			tt.mutate(&a)
			_, err := parseChildArgs(a.flags()[1:])
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	a := base
	a.Kind, a.C = kindInsert, 0
	if _, err := parseChildArgs(a.flags()[1:]); err != nil {
		t.Errorf("the insert measurement needs no workers: %v", err)
	}
}

func TestCronAtFiresAtTheSlot(t *testing.T) {
	t.Parallel()
	for _, slot := range []time.Time{
		time.Date(2026, 3, 1, 23, 59, 59, 0, time.UTC),
		time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 2, 7, 5, 9, 0, time.FixedZone("X", 8*3600)),
	} {
		expr := cronAt(slot)
		s, err := cron.Parse(expr)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		if !s.HasSeconds() {
			t.Errorf("%s: want a 6-field expression", expr)
		}
		if got := s.Next(slot.Add(-3*time.Second), time.UTC); !got.Equal(slot) {
			t.Errorf("%s: next fire after slot-3s is %s, want %s", expr, got, slot.UTC())
		}
	}
}

func TestPGWithDatabase(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want, wantErr string
	}{
		{"postgres://u@127.0.0.1:5432/postgres?sslmode=disable", "postgres://u@127.0.0.1:5432/bench_1?sslmode=disable", ""},
		{"postgresql://u:p@h/", "postgresql://u:p@h/bench_1", ""},
		{"host=/tmp port=5 dbname=postgres", "host=/tmp port=5 dbname=postgres dbname=bench_1", ""},
		{"  ", "", "empty"},
		{"postgres://u@h:bad/x", "", "PostgreSQL URL"},
	}
	for _, tt := range tests {
		got, err := pgWithDatabase(tt.in, "bench_1")
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: err = %v, want one containing %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: got %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
