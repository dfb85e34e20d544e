package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestRedacted(t *testing.T) {
	t.Parallel()
	type config struct {
		Token    Redacted `json:"token"`
		Password Redacted `json:"password,omitempty"`
		Empty    Redacted `json:"empty"`
	}
	const value = "hunter2-very-secret"
	cfg := config{Token: value, Password: value}

	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "token", cfg.Token, "cfg", cfg)
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "token", cfg.Token, "cfg", cfg)
	jsonCfg, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	jsonMap, err := json.Marshal(map[string]Redacted{"k": value})
	if err != nil {
		t.Fatal(err)
	}
	text, err := cfg.Token.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"%v":          fmt.Sprintf("%v", cfg.Token),
		"%s":          fmt.Sprintf("%s", cfg.Token),
		"%q":          fmt.Sprintf("%q", cfg.Token),
		"%x":          fmt.Sprintf("%x", cfg.Token),
		"%#v":         fmt.Sprintf("%#v", cfg.Token),
		"struct %v":   fmt.Sprintf("%v", cfg),
		"struct %+v":  fmt.Sprintf("%+v", cfg),
		"struct %#v":  fmt.Sprintf("%#v", cfg),
		"pointer %+v": fmt.Sprintf("%+v", &cfg),
		"Sprint":      fmt.Sprint(cfg.Token, []Redacted{cfg.Token}),
		"error %w":    fmt.Errorf("bad token %v: %w", cfg.Token, fmt.Errorf("x")).Error(),
		"json struct": string(jsonCfg),
		"json map":    string(jsonMap),
		"text":        string(text),
		"slog":        logs.String(),
	}
	for name, out := range outputs {
		if strings.Contains(out, "hunter2") || strings.Contains(out, fmt.Sprintf("%x", value)) {
			t.Errorf("%s reveals the secret: %s", name, out)
		}
		if !strings.Contains(out, "******") && name != "%x" {
			t.Errorf("%s shows no mask: %s", name, out)
		}
	}
	if want := `{"token":"******","password":"******","empty":""}`; string(jsonCfg) != want {
		t.Errorf("json = %s, want %s", jsonCfg, want)
	}
	if !strings.Contains(logs.String(), `token=******`) || !strings.Contains(logs.String(), `"token":"******"`) {
		t.Errorf("slog output lacks the mask:\n%s", logs.String())
	}

	// Empty stays empty, so "not set" is visible; the value is still there
	// for the code that needs it; decoding fills it like a string.
	if s := fmt.Sprint(cfg.Empty); s != "" {
		t.Errorf("empty Redacted prints %q", s)
	}
	if cfg.Token.Reveal() != value || string(cfg.Token) != value {
		t.Error("Reveal lost the value")
	}
	var decoded config
	if err := json.Unmarshal([]byte(`{"token":"abc"}`), &decoded); err != nil || decoded.Token.Reveal() != "abc" {
		t.Errorf("decoding into Redacted = %q, %v", decoded.Token.Reveal(), err)
	}
}
