package secret

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// setup returns n keyrings, each holding one fresh key, and those keys.
func setup(t testing.TB, n int) ([]*Keyring, []string) {
	t.Helper()
	rings := make([]*Keyring, n)
	keys := make([]string, n)
	for i := range n {
		key, err := GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = key
		rings[i] = mustParse(t, key)
	}
	return rings, keys
}

func TestGenerateKey(t *testing.T) {
	t.Parallel()
	a, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	b, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Error("two generated keys are equal")
	}
	raw, err := base64.URLEncoding.DecodeString(a)
	if len(a) != 44 || err != nil || len(raw) != 32 {
		t.Errorf("GenerateKey = %d characters (%v), %d bytes; want 44 characters of padded URL-safe base64, 32 bytes", len(a), err, len(raw))
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	rings, _ := setup(t, 1)
	k := rings[0]
	for _, size := range []int{0, 1, 15, 16, 17, 31, 32, 33, 1000, 1 << 16} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			t.Parallel()
			plaintext := bytes.Repeat([]byte{byte(size)}, size)
			before := uint64(time.Now().Unix())
			token, err := k.Encrypt(plaintext)
			if err != nil {
				t.Fatal(err)
			}
			got, ts, _, err := k.open(token)
			if err != nil {
				t.Fatalf("Decrypt: %v", err)
			}
			if !bytes.Equal(got, plaintext) {
				t.Errorf("Decrypt = %d bytes, want %d bytes %q", len(got), size, plaintext)
			}
			if after := uint64(time.Now().Unix()); ts < before || ts > after {
				t.Errorf("timestamp %d not in [%d, %d]", ts, before, after)
			}
			if again, _ := k.Encrypt(plaintext); again == token {
				t.Error("two encryptions gave the same token: the IV is not random")
			}
		})
	}
}

func TestEncryptDecryptJSON(t *testing.T) {
	t.Parallel()
	rings, _ := setup(t, 1)
	k := rings[0]
	in := map[string]any{
		"password": "p\"a's<s>&",
		"app_id":   json.Number("12345678901234567890"),
		"nested":   map[string]any{"list": []any{"a", json.Number("1.5"), true, nil}},
		"密钥":       "值",
	}
	token, err := k.EncryptJSON(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := k.DecryptJSON(token)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, in) {
		t.Errorf("DecryptJSON = %#v, want %#v", out, in)
	}

	// nil is stored as {}, and always comes back as a usable, empty map.
	token, err = k.EncryptJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	if plain, _ := k.Decrypt(token); string(plain) != "{}" {
		t.Errorf("EncryptJSON(nil) stored %q, want {}", plain)
	}
	if out, err := k.DecryptJSON(token); err != nil || out == nil || len(out) != 0 {
		t.Errorf("DecryptJSON of {} = %#v, %v; want empty non-nil map", out, err)
	}

	if _, err := k.EncryptJSON(map[string]any{"bad": make(chan int)}); err == nil {
		t.Error("EncryptJSON of a channel succeeded")
	}
}

func TestDecryptJSONRejectsNonObjects(t *testing.T) {
	t.Parallel()
	rings, _ := setup(t, 1)
	k := rings[0]
	tests := []struct {
		payload string
		want    string // in the error; the payload itself must not be
	}{
		{`"hunter2-secret"`, "JSON string, not an object"},
		{`[1,2]`, "JSON array, not an object"},
		{`42424242`, "JSON number, not an object"},
		{`true`, "JSON boolean, not an object"},
		{`{"a":"hunter2-secret"} {}`, "data after the object"},
		{`{"a":"hunter2-secret"`, "invalid JSON"},
		{`hunter2-secret`, "invalid JSON (syntax error at byte 1)"},
		{``, "invalid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.payload, func(t *testing.T) {
			t.Parallel()
			token, err := k.Encrypt([]byte(tt.payload))
			if err != nil {
				t.Fatal(err)
			}
			got, err := k.DecryptJSON(token)
			if err == nil {
				t.Fatalf("DecryptJSON = %#v, want an error", got)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "4242") {
				t.Errorf("error %q quotes the secret payload", err)
			}
		})
	}
	// Python's json.dumps(None) means "no secrets".
	token, _ := k.Encrypt([]byte("null"))
	if got, err := k.DecryptJSON(token); err != nil || got == nil || len(got) != 0 {
		t.Errorf("DecryptJSON(null) = %#v, %v; want empty map", got, err)
	}
}

func TestMultiKey(t *testing.T) {
	t.Parallel()
	_, keys := setup(t, 3)
	newKey, oldKey, unknownKey := keys[0], keys[1], keys[2]
	old := mustParse(t, oldKey)
	ring, err := Parse(newKey+"\n"+oldKey, "/etc/connecthub/fernet.key")
	if err != nil {
		t.Fatal(err)
	}

	oldToken, err := old.Encrypt([]byte("from before the rotation"))
	if err != nil {
		t.Fatal(err)
	}
	// The second key still decrypts tokens made before the rotation...
	if got, err := ring.Decrypt(oldToken); err != nil || string(got) != "from before the rotation" {
		t.Fatalf("Decrypt(old token) = %q, %v", got, err)
	}
	if !ring.NeedsRotation(oldToken) {
		t.Error("NeedsRotation(old token) = false")
	}

	// ...while the first key encrypts: the old key alone cannot read new tokens.
	newToken, err := ring.Encrypt([]byte("after"))
	if err != nil {
		t.Fatal(err)
	}
	if ring.NeedsRotation(newToken) {
		t.Error("NeedsRotation(new token) = true")
	}
	if _, err := old.Decrypt(newToken); !errors.Is(err, ErrWrongKey) {
		t.Errorf("old key on new token: %v, want ErrWrongKey", err)
	}

	rotated, err := ring.Rotate(oldToken)
	if err != nil {
		t.Fatal(err)
	}
	if ring.NeedsRotation(rotated) {
		t.Error("NeedsRotation(rotated) = true")
	}
	if got, err := mustParse(t, newKey).Decrypt(rotated); err != nil || string(got) != "from before the rotation" {
		t.Errorf("new key alone on rotated token = %q, %v", got, err)
	}
	if _, err := old.Decrypt(rotated); !errors.Is(err, ErrWrongKey) {
		t.Errorf("old key on rotated token: %v, want ErrWrongKey", err)
	}
	_, oldTS, _, _ := ring.open(oldToken)
	_, rotatedTS, _, _ := ring.open(rotated)
	if oldTS != rotatedTS {
		t.Errorf("Rotate changed the timestamp from %d to %d", oldTS, rotatedTS)
	}

	// Tokens no key verifies: NeedsRotation is false and Rotate says why.
	foreign, _ := mustParse(t, unknownKey).Encrypt([]byte("x"))
	if ring.NeedsRotation(foreign) || ring.NeedsRotation("garbage") {
		t.Error("NeedsRotation is true for a token no key verifies")
	}
	if _, err := ring.Rotate(foreign); !errors.Is(err, ErrWrongKey) {
		t.Errorf("Rotate(foreign) error = %v, want ErrWrongKey", err)
	}
	if _, err := ring.Rotate(oldToken[:50]); !errors.Is(err, ErrTruncated) {
		t.Errorf("Rotate(truncated) error = %v, want ErrTruncated", err)
	}
}

func TestWrongKeyErrorNamesKeyFile(t *testing.T) {
	t.Parallel()
	rings, keys := setup(t, 2)
	const path = "/data/fernet.key"
	k, err := Parse(keys[0], path)
	if err != nil {
		t.Fatal(err)
	}
	token, _ := rings[1].Encrypt([]byte("x"))
	_, err = k.Decrypt(token)
	if !errors.Is(err, ErrWrongKey) || errors.Is(err, ErrTruncated) || errors.Is(err, ErrMalformed) {
		t.Fatalf("error %v matches the wrong sentinels", err)
	}
	want := "secret_cfg cannot be decrypted with the key(s) in /data/fernet.key: wrong key, or the key was rotated away"
	if err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	if _, err := mustParse(t, keys[0]).DecryptJSON(token); !strings.Contains(err.Error(), "test keys") {
		t.Errorf("DecryptJSON error %q does not name the source", err)
	}
}

func TestDirtyTokens(t *testing.T) {
	t.Parallel()
	v := loadVectors(t)
	// A Python-made token whose base64 uses '-' or '_' and ends in padding
	// exercises every cleaning rule.
	var token, key string
	var want []byte
	for _, d := range v.Decrypt {
		if strings.ContainsAny(d.Token, "-_") && strings.HasSuffix(d.Token, "=") {
			token, key, want = d.Token, d.Key, mustB64(t, d.PlaintextB64)
			break
		}
	}
	if token == "" {
		t.Fatal("no vector token with '-' or '_' and padding")
	}
	k := mustParse(t, key)
	wrapped := func(every int, sep string) string {
		var b strings.Builder
		for i := 0; i < len(token); i += every {
			b.WriteString(token[i:min(i+every, len(token))])
			b.WriteString(sep)
		}
		return b.String()
	}
	tests := map[string]string{
		"clean":                     token,
		"spaces around":             "  \t" + token + " \n",
		"single quotes":             "'" + token + "'",
		"double quotes":             `"` + token + `"`,
		"nested quotes":             `"'` + token + `'"`,
		"repeated quotes":           `""''` + token + `''""`,
		"python bytes literal":      "b'" + token + "'",
		"python bytes double":       `b"` + token + `"`,
		"quoted bytes literal":      `"b'` + token + `'"`,
		"bytes literal with spaces": " b' " + token + " ' ",
		"one-sided quote":           "'" + token,
		"wrapped LF":                wrapped(20, "\n"),
		"wrapped CRLF indented":     wrapped(64, "\r\n    "),
		"spaces and tabs inside":    wrapped(7, " \t"),
		"no padding":                strings.TrimRight(token, "="),
		"extra padding":             token + "==",
		"standard alphabet":         strings.NewReplacer("-", "+", "_", "/").Replace(token),
		"yaml folded":               "'" + wrapped(30, "\n  ") + "'",
	}
	for name, dirty := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := k.Decrypt(dirty)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("Decrypt(%q) = %q, %v; want %q", dirty, got, err, want)
			}
			rotated, err := k.Rotate(dirty)
			if err != nil || strings.ContainsAny(rotated, " \n'\"") {
				t.Errorf("Rotate(%q) = %q, %v; want a clean token", dirty, rotated, err)
			}
		})
	}
}

// TestTruncatedTokens cuts a valid token at every length. A cut token has no
// valid signature, so each must give ErrTruncated or, when the cut happens to
// leave a well-framed token (≥ 73 bytes, whole blocks), ErrWrongKey; the
// expected kind is computed from the decoded length, so the test fails if
// either is reported in the other's place.
func TestTruncatedTokens(t *testing.T) {
	t.Parallel()
	rings, _ := setup(t, 1)
	k := rings[0]
	for _, size := range []int{0, 16, 100} {
		token, err := k.Encrypt(bytes.Repeat([]byte("s"), size))
		if err != nil {
			t.Fatal(err)
		}
		unpadded := strings.TrimRight(token, "=")
		for n := 0; n < len(unpadded); n++ {
			for _, dirty := range []string{unpadded[:n], "b'" + unpadded[:n], `"` + unpadded[:n] + "\n"} {
				_, err := k.Decrypt(dirty)
				want := "truncated"
				decoded := n * 3 / 4
				switch {
				case n == 0:
					want = "malformed" // nothing left at all
				case n%4 != 1 && decoded >= minTokenLen && (decoded-overhead)%16 == 0:
					want = "wrong_key"
				}
				if got := errKind(err); got != want {
					t.Errorf("size %d cut to %d characters (%q): %s (%v), want %s", size, n, dirty[:min(len(dirty), 12)], got, err, want)
				}
				if k.NeedsRotation(dirty) {
					t.Errorf("NeedsRotation true for a cut token")
				}
			}
		}
		if _, err := k.Decrypt(unpadded); err != nil {
			t.Errorf("the whole token without padding: %v", err)
		}
	}
	if ErrTruncated.Error() != "secret_cfg token looks truncated; re-enter secret_cfg" {
		t.Errorf("ErrTruncated text changed: %q", ErrTruncated)
	}
}

// sign builds a token with a valid signature around arbitrary contents, the
// way only a faulty or hostile encryptor would.
func sign(t testing.TB, key, afterVersion []byte) string {
	t.Helper()
	data := append([]byte{tokenVersion}, afterVersion...)
	mac := hmac.New(sha256.New, key[:16])
	mac.Write(data)
	return base64.URLEncoding.EncodeToString(mac.Sum(data))
}

// badPadding returns timestamp, IV and one block of ciphertext whose
// plaintext ends in last, with the byte before it set to 0xFF, so that
// last ∈ {0, 17} is an impossible padding value and 2 ≤ last ≤ 16 claims
// padding bytes that do not match.
func badPadding(t testing.TB, key []byte, last byte) []byte {
	t.Helper()
	block, err := aes.NewCipher(key[16:])
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 8+16+16) // zero timestamp and IV
	plain := out[8+16:]
	plain[14], plain[15] = 0xFF, last
	cipher.NewCBCEncrypter(block, out[8:8+16]).CryptBlocks(plain, plain)
	return out
}

func TestMalformedTokens(t *testing.T) {
	t.Parallel()
	_, keys := setup(t, 1)
	k := mustParse(t, keys[0])
	raw, _ := base64.URLEncoding.DecodeString(keys[0])
	good, _ := k.Encrypt([]byte("payload"))
	goodBytes, _ := base64.URLEncoding.DecodeString(good)
	otherVersion := append([]byte{0x81}, goodBytes[1:]...)

	tests := map[string]string{
		"empty":                     "",
		"only whitespace":           " \n\t ",
		"only quotes":               `"''"`,
		"python empty bytes":        "b''",
		"not base64":                "this is not a token!",
		"a secret pasted instead":   "hunter2",
		"JSON pasted instead":       `{"password": "x"}`,
		"other version byte":        base64.URLEncoding.EncodeToString(otherVersion),
		"zero byte":                 "AA==",
		"padding in the middle":     good[:8] + "=" + good[8:],
		"signed, no ciphertext":     sign(t, raw, make([]byte, 8+16)),
		"signed, 1 byte ciphertext": sign(t, raw, make([]byte, 8+16+1)),
		"signed, 17 bytes":          sign(t, raw, make([]byte, 8+16+17)),
		"signed, padding byte 0":    sign(t, raw, badPadding(t, raw, 0)),
		"signed, padding byte 17":   sign(t, raw, badPadding(t, raw, 17)),
		"signed, padding mismatch":  sign(t, raw, badPadding(t, raw, 3)),
	}
	for name, token := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := k.Decrypt(token)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decrypt = %q, %v; want ErrMalformed", got, err)
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "password") {
				t.Errorf("error %q quotes the input", err)
			}
		})
	}
	// Truncation needs the Fernet version byte: a short token of another
	// kind is not "truncated".
	if _, err := k.Decrypt("AAAA"); !errors.Is(err, ErrMalformed) {
		t.Errorf("short non-Fernet input: %v, want ErrMalformed", err)
	}
}

func TestZeroKeyringReturnsErrors(t *testing.T) {
	t.Parallel()
	for name, k := range map[string]*Keyring{"nil": nil, "zero": {}} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := k.Encrypt([]byte("x")); err == nil {
				t.Error("Encrypt succeeded")
			}
			if _, err := k.Decrypt("gAAAAA"); err == nil {
				t.Error("Decrypt succeeded")
			}
			if _, err := k.EncryptJSON(nil); err == nil {
				t.Error("EncryptJSON succeeded")
			}
			if _, err := k.DecryptJSON("gAAAAA"); err == nil {
				t.Error("DecryptJSON succeeded")
			}
			if _, err := k.Rotate("gAAAAA"); err == nil {
				t.Error("Rotate succeeded")
			}
			if k.NeedsRotation("gAAAAA") || k.Source() != "" || k.Warnings() != nil {
				t.Error("zero keyring reports state")
			}
		})
	}
}

func FuzzDecrypt(f *testing.F) {
	key := "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4="
	k := mustParse(f, key, "ISmMIcGnUZuWMrMaOvBZXQiN4eoIxyrjmaKL-0zOrWk=")
	raw, _ := base64.URLEncoding.DecodeString(key)
	good, _ := k.Encrypt([]byte(`{"password":"p"}`))
	for _, seed := range []string{
		good, good[:60], good[:99], "b'" + good + "'", `"'` + good + `'"`, good[:40] + "\n" + good[40:],
		"", "g", "gA", "gAAAAA", "=", "b'", "''", "AAAA", "\x80", strings.Repeat("A", 200),
		sign(f, raw, make([]byte, 8+16)), sign(f, raw, make([]byte, 8+16+16)), sign(f, raw, make([]byte, 3)),
	} {
		f.Add(seed, []byte(nil))
	}
	f.Add("", make([]byte, 8+16+16))
	f.Add("", make([]byte, 0))
	f.Fuzz(func(t *testing.T, token string, signed []byte) {
		// The signed input reaches the code behind the HMAC check (length
		// and padding handling), which random tokens almost never pass.
		if signed != nil {
			token = sign(t, raw, signed)
		}
		plaintext, err := k.Decrypt(token)
		if err != nil {
			if kind := errKind(err); strings.HasPrefix(kind, "other") {
				t.Fatalf("Decrypt error matches no sentinel: %v", err)
			}
			if plaintext != nil {
				t.Fatalf("Decrypt returned plaintext with error %v", err)
			}
			if _, err := k.Rotate(token); err == nil {
				t.Fatal("Rotate succeeded where Decrypt failed")
			}
		} else {
			rotated, err := k.Rotate(token)
			if err != nil {
				t.Fatalf("Rotate failed where Decrypt succeeded: %v", err)
			}
			if again, err := k.Decrypt(rotated); err != nil || !bytes.Equal(again, plaintext) {
				t.Fatalf("rotated token decrypts to %q, %v; want %q", again, err, plaintext)
			}
		}
		k.NeedsRotation(token)
		_, _ = k.DecryptJSON(token)
	})
}
