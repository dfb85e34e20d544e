// Package testpg gives tests a fresh, empty PostgreSQL schema of their own.
//
// Tests find the server through CONNECTHUB_TEST_POSTGRES_URL, which `make
// test` sets after starting a throwaway cluster with
// scripts/pg-test-cluster.sh. Without it the tests skip, except under
// CONNECTHUB_TEST_STRICT=1 (set by `make test` and CI), where a missing
// PostgreSQL fails the test: a suite that silently skips its PostgreSQL half
// would pass while testing nothing.
//
// Isolation is a schema per test, not a database per test. Measured on the
// test cluster (PostgreSQL 15, fsync off), CREATE DATABASE takes 80–300 ms,
// as it copies the whole template (even template0), and a new database
// also starts with cold catalog caches; CREATE SCHEMA takes well under a
// millisecond and DROP SCHEMA ... CASCADE a few. The
// URL that URL returns selects the schema with the search_path run-time
// parameter, so code under test needs no knowledge of it. Code that shares a
// database between schemas must then keep database-wide resources apart
// (advisory lock ids, LISTEN/NOTIFY channels); pgstore does, by schema.
package testpg

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Environment variables that configure the helper.
const (
	// EnvURL names the server tests use (a superuser, or a role that may
	// create schemas in the URL's database).
	EnvURL = "CONNECTHUB_TEST_POSTGRES_URL"
	// EnvStrict, when "1", turns a missing EnvURL from a skip into a failure.
	EnvStrict = "CONNECTHUB_TEST_STRICT"
)

// skipMessage is what a test without a PostgreSQL reports.
const skipMessage = "PostgreSQL tests need " + EnvURL + "; `make test` provisions one"

// adminTimeout bounds the helper's own statements, so that a hung server
// fails the test instead of hanging the whole run.
const adminTimeout = 30 * time.Second

// URL returns a connection URL for a fresh, empty schema that exists for
// this test only: the server's URL with search_path set to the schema. The
// schema and everything in it is dropped when the test ends (t.Cleanup), so
// close whatever uses it in a cleanup registered after URL returns, or
// before the test ends.
func URL(t testing.TB) string {
	t.Helper()
	serverURL, schema := fresh(t, os.LookupEnv)
	u, err := withSearchPath(serverURL, schema)
	if err != nil {
		t.Fatalf("testpg: %v", err)
	}
	return u
}

// Require ends the test the way URL would when there is no PostgreSQL to
// test against (a skip, or a failure under CONNECTHUB_TEST_STRICT=1), and
// does nothing otherwise. A test that opens many stores calls it first, so
// that it skips once rather than in every subtest.
func Require(t testing.TB) {
	t.Helper()
	require(t, os.LookupEnv)
}

// Schema creates a fresh, empty schema for this test like URL does, and
// returns the server's URL (without search_path) and the schema's name, for
// code that takes the schema as a separate setting.
func Schema(t testing.TB) (serverURL, schema string) {
	t.Helper()
	return fresh(t, os.LookupEnv)
}

// fresh does the work of URL and Schema with the environment passed in, so
// that its skip and fail rules can be tested without touching the process
// environment.
func fresh(t testing.TB, lookupEnv func(string) (string, bool)) (serverURL, schema string) {
	t.Helper()
	serverURL = require(t, lookupEnv)
	pool, err := adminPool(serverURL)
	if err != nil {
		t.Fatalf("testpg: %s is set but unusable: %v", EnvURL, err)
	}
	schema = schemaName(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatalf("testpg: create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
		defer cancel()
		if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("testpg: drop schema %s: %v", schema, err)
		}
	})
	return serverURL, schema
}

// require returns the server's URL, or ends the test when there is none.
func require(t testing.TB, lookupEnv func(string) (string, bool)) string {
	t.Helper()
	serverURL, _ := lookupEnv(EnvURL)
	serverURL = strings.TrimSpace(serverURL)
	if serverURL == "" {
		if strict, _ := lookupEnv(EnvStrict); strict == "1" {
			t.Fatal(skipMessage + " (" + EnvStrict + "=1: a missing PostgreSQL is a failure here, not a skip)")
		}
		t.Skip(skipMessage)
	}
	return serverURL
}

// The admin pools, one per server URL (in practice one), live as long as
// the test binary: opening a connection per test would cost more than the
// schema itself.
var (
	adminMu    sync.Mutex
	adminPools = map[string]*pgxpool.Pool{}
)

func adminPool(serverURL string) (*pgxpool.Pool, error) {
	adminMu.Lock()
	defer adminMu.Unlock()
	if p, ok := adminPools[serverURL]; ok {
		return p, nil
	}
	cfg, err := pgxpool.ParseConfig(serverURL)
	if err != nil {
		return nil, err
	}
	// Creating and dropping schemas is quick; a few connections serve
	// every parallel test without eating into max_connections.
	cfg.MaxConns = 4
	cfg.MinConns = 0
	cfg.MaxConnIdleTime = 30 * time.Second
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "connecthub-testpg"
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	p, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := p.Ping(ctx); err != nil {
		p.Close()
		return nil, fmt.Errorf("cannot reach the server: %w", err)
	}
	adminPools[serverURL] = p
	return p, nil
}

// Close closes the connections the helper keeps between tests. Call it from
// a TestMain that checks for leaked goroutines, after the tests ran; a later
// URL opens them again.
func Close() {
	adminMu.Lock()
	defer adminMu.Unlock()
	for url, p := range adminPools {
		p.Close()
		delete(adminPools, url)
	}
}

// maxIdentifier is PostgreSQL's identifier length limit (NAMEDATALEN-1).
const maxIdentifier = 63

// schemaName makes a unique schema name that says which test made it, so a
// schema left behind by a killed run can be traced: "t_<test>_<random>",
// lower case, [a-z0-9_] only.
func schemaName(testName string) string {
	var b strings.Builder
	b.WriteString("t_")
	for _, r := range strings.ToLower(testName) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	var random [6]byte
	_, _ = rand.Read(random[:]) // never fails: it crashes the program instead
	suffix := "_" + hex.EncodeToString(random[:])
	name := b.String()
	if len(name) > maxIdentifier-len(suffix) {
		name = name[:maxIdentifier-len(suffix)]
	}
	return name + suffix
}

// withSearchPath returns serverURL with its search_path set to schema. Both
// URL ("postgres://...") and keyword/value ("host=... dbname=...") forms
// are accepted, as pgx accepts both.
func withSearchPath(serverURL, schema string) (string, error) {
	if strings.HasPrefix(serverURL, "postgres://") || strings.HasPrefix(serverURL, "postgresql://") {
		u, err := url.Parse(serverURL)
		if err != nil {
			// url.Parse's error repeats the URL, password and all.
			return "", fmt.Errorf("%s is not a valid URL", EnvURL)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	// Schema names made here are [a-z0-9_]: no quoting needed.
	return serverURL + " search_path=" + schema, nil
}
