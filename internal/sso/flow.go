package sso

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// flowCookie carries one sign-in's secrets from Begin to Finish.
const flowCookie = "connecthub_oidc"

// flow is what a sign-in must find again at the callback: the state that
// ties the callback to this browser, the nonce the ID token must carry,
// and the PKCE verifier the code is exchanged with. It travels in a
// cookie signed with the server's key, so that it needs no storage that
// every replica would have to share, and cannot be forged or altered.
type flow struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Next     string `json:"r"`
	Expires  int64  `json:"e"`
}

func newFlow(next string, expires time.Time) (*flow, error) {
	state, err := random()
	if err != nil {
		return nil, err
	}
	nonce, err := random()
	if err != nil {
		return nil, err
	}
	return &flow{State: state, Nonce: nonce, Verifier: oauth2.GenerateVerifier(), Next: next, Expires: expires.Unix()}, nil
}

// random returns 256 random bits, base64url-encoded.
func random() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func flowMAC(key []byte, payload string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("connecthub oidc flow\x00" + payload))
	return m.Sum(nil)
}

// seal returns the cookie value: the flow and its MAC.
func (f *flow) seal(key []byte) string {
	raw, _ := json.Marshal(f) // a struct of strings and an int
	payload := base64.RawURLEncoding.EncodeToString(raw)
	return payload + "." + base64.RawURLEncoding.EncodeToString(flowMAC(key, payload))
}

var errFlow = errors.New("the sign-in's cookie is missing, altered or expired")

// openFlow checks a cookie value's MAC and age and returns its flow.
func openFlow(value string, key []byte, now time.Time) (*flow, error) {
	payload, sig, ok := strings.Cut(value, ".")
	if !ok {
		return nil, errFlow
	}
	mac, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(mac, flowMAC(key, payload)) {
		return nil, errFlow
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return nil, errFlow
	}
	var f flow
	if err := json.Unmarshal(raw, &f); err != nil || f.State == "" || f.Nonce == "" || f.Verifier == "" {
		return nil, errFlow
	}
	if now.Unix() > f.Expires {
		return nil, errFlow
	}
	return &f, nil
}
