package syncoatodidi

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/handler/handlertest"
)

func TestRegister(t *testing.T) {
	t.Parallel()
	r := handler.NewRegistry()
	if err := Register(r); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range r.List() {
		names = append(names, s.Name)
	}
	want := []string{ExportFormName, LegalEntitySyncName, TokenName}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("registered %q, want %q", names, want)
	}
	if err := Register(r); err == nil || !strings.Contains(err.Error(), "registered twice") {
		t.Errorf("second Register: err = %v, want a duplicate error", err)
	}
	if err := Register(nil); err == nil {
		t.Error("Register(nil) succeeded")
	}
	wantSecrets := map[string][]string{
		TokenName:           {"rest_user", "rest_password"},
		ExportFormName:      {"rest_user", "rest_password"},
		LegalEntitySyncName: {"rest_user", "rest_password", "client_secret", "sign_key", "phone"},
	}
	for _, s := range Specs(Options{}) {
		if !reflect.DeepEqual(s.SecretKeys, wantSecrets[s.Name]) {
			t.Errorf("%s: secret keys %q, want %q", s.Name, s.SecretKeys, wantSecrets[s.Name])
		}
		if s.Description == "" || s.Func == nil {
			t.Errorf("%s: incomplete spec", s.Name)
		}
	}
}

// TestSchemas checks each schema with handlertest.CheckSchema (draft
// 2020-12, an object, every property described for the admin form, valid and
// invalid configurations), and that its properties are exactly the keys the
// handler decodes.
func TestSchemas(t *testing.T) {
	t.Parallel()
	oa := `"seeyon_base_url": "https://oa.example.com"`
	sync := oa + `, "template_code": "HR1", "didi_client_id": "c1", "didi_company_id": "1125"`
	tests := []struct {
		name    string
		config  any
		valid   []string
		invalid []string
	}{
		{
			name:   TokenName,
			config: tokenConfig{},
			valid:  []string{`{` + oa + `}`, `{` + oa + `, "seeyon_login_name": "zhang", "seeyon_timeout": "1m30s"}`},
			invalid: []string{`{}`, `{"seeyon_base_url": "oa.example.com"}`, `{` + oa + `, "seeyon_timeout": "60"}`,
				`{` + oa + `, "template_code": "x"}`, `[]`},
		},
		{
			name:   ExportFormName,
			config: exportFormConfig{},
			valid: []string{
				`{` + oa + `, "template_code": "HR1"}`,
				`{` + oa + `, "template_code": "HR1", "right_id": "-1.2", "begin_date_time": "2020-01-01", "end_date_time": "2099-12-31",
				  "page": 1, "page_size": 500, "extra_params": {"doTrigger": "false"}, "log_chunk_bytes": 256, "log_max_bytes": 0}`,
			},
			invalid: []string{`{` + oa + `}`, `{` + oa + `, "template_code": ""}`, `{` + oa + `, "template_code": "HR1", "page": 0}`,
				`{` + oa + `, "template_code": "HR1", "log_chunk_bytes": 100}`, `{` + oa + `, "template_code": "HR1", "extra_params": []}`},
		},
		{
			name:   LegalEntitySyncName,
			config: syncConfig{},
			valid: []string{
				`{` + sync + `}`,
				`{` + sync + `, "employee_number_field": "员工编号", "company_field": "公司", "didi_base_url": "http://127.0.0.1:9",
				  "didi_grant_type": "client_credentials", "didi_timeout": "10s", "edit_interval": "0s", "dry_run": true}`,
			},
			invalid: []string{`{` + oa + `, "template_code": "HR1"}`, `{` + sync + `, "edit_interval": 150}`,
				`{` + sync + `, "dry_run": "yes"}`, `{` + sync + `, "didi_base_url": "ftp://x"}`, `{` + sync + `, "client_secret": "x"}`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := spec(t, tt.name)
			handlertest.CheckSchema(t, s, tt.valid, tt.invalid)
			var doc struct {
				Properties map[string]json.RawMessage `json:"properties"`
			}
			if err := json.Unmarshal(s.ConfigSchema, &doc); err != nil {
				t.Fatal(err)
			}
			var props []string
			for name := range doc.Properties {
				props = append(props, name)
			}
			slices.Sort(props)
			if keys := jsonKeys(reflect.TypeOf(tt.config)); !reflect.DeepEqual(props, keys) {
				t.Errorf("schema properties %q, decoded keys %q", props, keys)
			}
		})
	}
}

// jsonKeys returns the sorted json names of a struct's fields, embedded
// structs included.
func jsonKeys(typ reflect.Type) []string {
	var out []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Anonymous {
			out = append(out, jsonKeys(f.Type)...)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// TestDecode checks the handlers' configuration structs, composed of
// embedded parts, through handler.Task.Decode: keys of every part are known
// and errors name the key the user wrote.
func TestDecode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		config  string
		wantErr string
	}{
		{config: ``},
		{config: `null`},
		{config: `{}`},
		{config: `{"seeyon_base_url": "https://oa", "page": 2}`},
		{config: `[]`, wantErr: "public_cfg must be a JSON object"},
		{config: `{"seeyon_base_url": `, wantErr: "public_cfg must be a JSON object"},
		{config: `{"seeyon_base_ur": "x"}`, wantErr: `public_cfg: unknown key "seeyon_base_ur"`},
		{config: `{"page": "2"}`, wantErr: "public_cfg.page must be an integer, not a string"},
		{config: `{"extra_params": [1]}`, wantErr: "public_cfg.extra_params must be an object, not an array"},
		{config: `{"log_max_bytes": true}`, wantErr: "public_cfg.log_max_bytes must be an integer, not a bool"},
		{config: `{} {}`, wantErr: "public_cfg must be a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.config, func(t *testing.T) {
			t.Parallel()
			var cfg exportFormConfig
			err := (&handler.Task{Config: json.RawMessage(tt.config)}).Decode(&cfg)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr && !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if !handler.IsPermanent(err) {
				t.Errorf("err %v is not permanent", err)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		value   string
		want    string
		wantErr string
	}{
		{value: "", want: "150ms"},
		{value: " 1s ", want: "1s"},
		{value: "0s", want: "0s"},
		{value: "1m", want: "1m0s"},
		{value: "61s", wantErr: "must be between 0s and 1m0s"},
		{value: "-1s", wantErr: "must be between 0s and 1m0s"},
		{value: "150", wantErr: "is not a duration"},
	}
	for _, tt := range tests {
		d, err := parseDuration("edit_interval", tt.value, DefaultEditInterval, maxEditInterval)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !handler.IsPermanent(err) {
				t.Errorf("parseDuration(%q) err = %v, want a permanent %q", tt.value, err, tt.wantErr)
			}
			continue
		}
		if err != nil || d.String() != tt.want {
			t.Errorf("parseDuration(%q) = %v, %v; want %s", tt.value, d, err, tt.want)
		}
	}
}
