package secret

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var pythonFlag = flag.Bool("python", false,
	"also check that Python's cryptography.fernet decrypts Go-made tokens (needs python3 with cryptography)")

// vectors mirrors testdata/vectors.json, written by testdata/gen_vectors.py.
type vectors struct {
	Generator string `json:"generator"`
	Decrypt   []struct {
		Name         string `json:"name"`
		Key          string `json:"key"`
		PlaintextB64 string `json:"plaintext_b64"`
		Timestamp    uint64 `json:"timestamp"`
		IVB64        string `json:"iv_b64"`
		Token        string `json:"token"`
	} `json:"decrypt"`
	JSON []struct {
		Name  string `json:"name"`
		Key   string `json:"key"`
		JSON  string `json:"json"`
		Token string `json:"token"`
	} `json:"json"`
	Multi struct {
		Keys   []string `json:"keys"`
		Tokens []struct {
			Name          string `json:"name"`
			Token         string `json:"token"`
			PlaintextB64  string `json:"plaintext_b64"`
			Timestamp     uint64 `json:"timestamp"`
			NeedsRotation bool   `json:"needs_rotation"`
		} `json:"tokens"`
	} `json:"multi"`
	Invalid []struct {
		Name  string   `json:"name"`
		Keys  []string `json:"keys"`
		Token string   `json:"token"`
		Error string   `json:"error"`
	} `json:"invalid"`
}

func loadVectors(t testing.TB) *vectors {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("testdata/vectors.json: %v", err)
	}
	if len(v.Decrypt) == 0 || len(v.JSON) == 0 || len(v.Multi.Tokens) == 0 || len(v.Invalid) == 0 {
		t.Fatal("testdata/vectors.json lacks a section; regenerate it with gen_vectors.py")
	}
	return &v
}

func mustB64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustParse(t testing.TB, keys ...string) *Keyring {
	t.Helper()
	k, err := Parse(strings.Join(keys, "\n"), "test keys")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// errKind names which of the package's errors err matches, for table tests
// and for the vectors' "error" field.
func errKind(err error) string {
	switch {
	case err == nil:
		return "none"
	case errors.Is(err, ErrTruncated):
		return "truncated"
	case errors.Is(err, ErrWrongKey):
		return "wrong_key"
	case errors.Is(err, ErrMalformed):
		return "malformed"
	default:
		return "other: " + err.Error()
	}
}

func TestPythonVectorsDecrypt(t *testing.T) {
	t.Parallel()
	for _, v := range loadVectors(t).Decrypt {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			k := mustParse(t, v.Key)
			want := mustB64(t, v.PlaintextB64)
			got, ts, idx, err := k.open(v.Token)
			if err != nil {
				t.Fatalf("Decrypt: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("plaintext = %q, want %q", got, want)
			}
			if ts != v.Timestamp || idx != 0 {
				t.Errorf("timestamp, key = %d, %d; want %d, 0", ts, idx, v.Timestamp)
			}
			// Given the same parts, Go must build exactly Python's token.
			token, err := k.keys[0].seal(want, v.Timestamp, mustB64(t, v.IVB64))
			if err != nil {
				t.Fatal(err)
			}
			if token != v.Token {
				t.Errorf("seal with Python's parts:\n got %s\nwant %s", token, v.Token)
			}
		})
	}
}

func TestPythonVectorsJSON(t *testing.T) {
	t.Parallel()
	for _, v := range loadVectors(t).JSON {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			got, err := mustParse(t, v.Key).DecryptJSON(v.Token)
			if err != nil {
				t.Fatalf("DecryptJSON: %v", err)
			}
			dec := json.NewDecoder(strings.NewReader(v.JSON))
			dec.UseNumber()
			var want map[string]any
			if err := dec.Decode(&want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("DecryptJSON = %#v, want %#v", got, want)
			}
		})
	}
}

func TestPythonVectorsMultiKey(t *testing.T) {
	t.Parallel()
	v := loadVectors(t).Multi
	ring := mustParse(t, v.Keys...)
	firstOnly := mustParse(t, v.Keys[0])
	for _, c := range v.Tokens {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			want := mustB64(t, c.PlaintextB64)
			got, err := ring.Decrypt(c.Token)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("Decrypt = %q, %v; want %q", got, err, want)
			}
			if ring.NeedsRotation(c.Token) != c.NeedsRotation {
				t.Errorf("NeedsRotation = %v, want %v", !c.NeedsRotation, c.NeedsRotation)
			}
			rotated, err := ring.Rotate(c.Token)
			if err != nil {
				t.Fatalf("Rotate: %v", err)
			}
			// After rotation the first key alone must read it, with the
			// original timestamp kept, as Python's MultiFernet.rotate does.
			got, ts, _, err := firstOnly.open(rotated)
			if err != nil || !bytes.Equal(got, want) || ts != c.Timestamp {
				t.Errorf("first key on rotated token = %q, ts %d, %v; want %q, ts %d", got, ts, err, want, c.Timestamp)
			}
			if ring.NeedsRotation(rotated) {
				t.Error("NeedsRotation(rotated) = true")
			}
		})
	}
}

func TestPythonVectorsInvalid(t *testing.T) {
	t.Parallel()
	for _, v := range loadVectors(t).Invalid {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			got, err := mustParse(t, v.Keys...).Decrypt(v.Token)
			if kind := errKind(err); kind != v.Error {
				t.Errorf("Decrypt error = %s (%v), want %s", kind, err, v.Error)
			}
			if got != nil {
				t.Errorf("Decrypt returned %q with an error", got)
			}
		})
	}
}

// TestGoTokensDecryptInPython runs only with -python, because the tests must
// not need Python; run it after changing the encryption code:
//
//	go test ./internal/secret -run TestGoTokensDecryptInPython -python
func TestGoTokensDecryptInPython(t *testing.T) {
	if !*pythonFlag {
		t.Skip("needs -python")
	}
	t.Parallel()
	v := loadVectors(t)
	key, err := GenerateKey() // Python must also accept our key format
	if err != nil {
		t.Fatal(err)
	}
	type goToken struct {
		Name         string   `json:"name"`
		Keys         []string `json:"keys"`
		Token        string   `json:"token"`
		PlaintextB64 string   `json:"plaintext_b64"`
		Timestamp    *uint64  `json:"timestamp,omitempty"`
	}
	var cases []goToken
	add := func(name string, keys []string, token string, plaintext []byte, ts *uint64) {
		cases = append(cases, goToken{name, keys, token, base64.StdEncoding.EncodeToString(plaintext), ts})
	}
	for _, d := range v.Decrypt {
		pt := mustB64(t, d.PlaintextB64)
		for _, keys := range [][]string{{d.Key}, {key}} {
			token, err := mustParse(t, keys...).Encrypt(pt)
			if err != nil {
				t.Fatal(err)
			}
			add(d.Name, keys, token, pt, nil)
		}
	}
	ring := mustParse(t, v.Multi.Keys...)
	for _, c := range v.Multi.Tokens {
		rotated, err := ring.Rotate(c.Token)
		if err != nil {
			t.Fatal(err)
		}
		ts := c.Timestamp
		add("rotated "+c.Name, v.Multi.Keys[:1], rotated, mustB64(t, c.PlaintextB64), &ts)
	}
	token, err := mustParse(t, key).EncryptJSON(map[string]any{"api_key": "k", "n": json.Number("12345678901234567890")})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := mustParse(t, key).Decrypt(token)
	if err != nil {
		t.Fatal(err)
	}
	add("json", []string{key}, token, plain, nil)

	data, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "go_tokens.json")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("python3", filepath.Join("testdata", "gen_vectors.py"), "--verify", file).CombinedOutput()
	t.Logf("python: %s", out)
	if err != nil {
		t.Fatalf("Python rejected Go tokens: %v", err)
	}
}
