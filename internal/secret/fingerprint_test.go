package secret

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func TestFingerprintJSON(t *testing.T) {
	t.Parallel()
	newRing := func() *Keyring {
		key, err := GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		k, err := Parse(key, "")
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	k, other := newRing(), newRing()
	fp := func(k *Keyring, v map[string]any) (string, map[string]string) {
		t.Helper()
		token, err := k.EncryptJSON(v)
		if err != nil {
			t.Fatal(err)
		}
		id, values, err := k.FingerprintJSON(token)
		if err != nil {
			t.Fatal(err)
		}
		return id, values
	}
	id1, a := fp(k, map[string]any{"password": "1234", "user": "li"})
	id2, b := fp(k, map[string]any{"password": "1234", "user": "li"}) // a fresh token of the same values
	_, c := fp(k, map[string]any{"password": "1235", "user": "li"})
	id3, d := fp(other, map[string]any{"password": "1234", "user": "li"})
	tests := []struct {
		name string
		ok   bool
	}{
		{"same values, same fingerprints", id1 == id2 && a["password"] == b["password"] && a["user"] == b["user"]},
		{"a changed value changes only its fingerprint", c["password"] != a["password"] && c["user"] == a["user"]},
		{"another key gives other fingerprints and key id", id3 != id1 && d["password"] != a["password"]},
		{"not a plain hash of the value", a["password"] != hex.EncodeToString(sha256.New().Sum([]byte("1234"))) &&
			a["password"] != func() string { s := sha256.Sum256([]byte(`"1234"`)); return hex.EncodeToString(s[:]) }()},
		{"hex SHA-256 sized", len(a["password"]) == 64 && len(id1) == 8},
	}
	for _, tc := range tests {
		if !tc.ok {
			t.Errorf("%s: failed (a=%v c=%v d=%v)", tc.name, a, c, d)
		}
	}
	if _, _, err := k.FingerprintJSON("not a token"); err == nil {
		t.Error("FingerprintJSON of a bad token succeeded")
	}
}
