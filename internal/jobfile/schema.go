// Package jobfile reads and writes job definitions as YAML files, the
// form in which teams keep them in git (configuration as code): export
// renders jobs one document each with their next fire times, Load parses
// files and directories, checks every document against the published
// JSON Schema and the job decoder, and resolves secret references, and
// the plan printer shows what an apply changes, field by field.
//
// The fields of a definition are derived from connecthub.Job's JSON, not
// listed here, so a field added to the job is exported, validated and
// applied without changes to this package.
package jobfile

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/calendar"
)

// serverSet are the fields of a job's JSON that the server sets: they
// are not part of a definition, and a file must not hold them.
var serverSet = map[string]bool{
	"last_run_at": true, "next_run_at": true, "created_at": true, "updated_at": true,
	"secret_keys": true, "has_secret": true, "last_run": true, "durations": true,
}

// enums are the closed sets of values some fields take, so that an
// editor can offer them; the server's validation is the authority.
var enums = map[string][]string{
	"concurrency":   {connecthub.ConcurrencyForbid, connecthub.ConcurrencyAllow, connecthub.ConcurrencyReplace},
	"misfire":       {connecthub.MisfireSkip, connecthub.MisfireOnce, connecthub.MisfireAll},
	"calendar_mode": {"", string(calendar.ModeWorkdays), string(calendar.ModeSkipHolidays)},
}

// SecretRefPattern is what a secret_cfg value in a file must be: a
// reference to an environment variable or to a file, never the secret.
const SecretRefPattern = `^(\$\{[A-Za-z_][A-Za-z0-9_]*\}|file:.+)$`

// Fields returns the names of a definition's fields in the order of the
// job's JSON, with secret_cfg after public_cfg.
func Fields() []string {
	var out []string
	t := reflect.TypeFor[connecthub.Job]()
	for i := range t.NumField() {
		name := jsonName(t.Field(i))
		if name == "" || serverSet[name] {
			continue
		}
		out = append(out, name)
		if name == "public_cfg" {
			out = append(out, "secret_cfg")
		}
	}
	return out
}

func jsonName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	tag := f.Tag.Get("json")
	name, _, _ := strings.Cut(tag, ",")
	if name == "-" {
		return ""
	}
	if name == "" {
		return f.Name
	}
	return name
}

// Schema returns the JSON Schema (draft 2020-12) of one job definition
// document, as published in docs/jobs.schema.json.
func Schema() []byte {
	props := map[string]any{}
	t := reflect.TypeFor[connecthub.Job]()
	for i := range t.NumField() {
		f := t.Field(i)
		name := jsonName(f)
		if name == "" || serverSet[name] {
			continue
		}
		props[name] = typeSchema(f.Type)
	}
	props["id"] = map[string]any{"type": "string", "pattern": `^[A-Za-z0-9._:-]{1,128}$`,
		"description": "the job's id: 1-128 characters of A-Z a-z 0-9 . _ : -"}
	props["public_cfg"] = map[string]any{"type": "object", "description": "the handler's configuration"}
	props["secret_cfg"] = map[string]any{"type": "object",
		"description":          "secret values as references, resolved when the file is applied: ${ENV_VAR} or file:PATH (relative to the file). Absent: the job keeps its secrets",
		"additionalProperties": map[string]any{"type": "string", "pattern": SecretRefPattern}}
	for name, vals := range enums {
		if p, ok := props[name].(map[string]any); ok {
			p["enum"] = vals
		}
	}
	doc := map[string]any{
		"$schema":              "https://json-schema.org/draft/2020-12/schema",
		"$id":                  "https://connecthub.invalid/schemas/jobs.schema.json",
		"title":                "ConnectHub job definition",
		"description":          "One job per YAML document, as `connecthub export` writes and `connecthub apply` reads. A field left out takes its default.",
		"type":                 "object",
		"required":             []string{"id", "handler"},
		"additionalProperties": false,
		"properties":           props,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(doc)
	return buf.Bytes()
}

var (
	durationType = reflect.TypeFor[connecthub.Duration]()
	rawType      = reflect.TypeFor[json.RawMessage]()
)

// typeSchema maps a Go type to the JSON Schema of its JSON form.
func typeSchema(t reflect.Type) map[string]any {
	switch {
	case t == durationType:
		return map[string]any{"type": []string{"string", "number"}, "description": `a duration like "90s" or "1h", or a number of seconds`}
	case t == rawType:
		return map[string]any{}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return typeSchema(t.Elem())
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice:
		// null is a nil slice: none, as the job decoder takes it.
		return map[string]any{"type": []string{"array", "null"}, "items": typeSchema(t.Elem())}
	case reflect.Array:
		return map[string]any{"type": "array", "items": typeSchema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": []string{"object", "null"}, "additionalProperties": typeSchema(t.Elem())}
	case reflect.Struct:
		props := map[string]any{}
		for i := range t.NumField() {
			if name := jsonName(t.Field(i)); name != "" {
				props[name] = typeSchema(t.Field(i).Type)
			}
		}
		return map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	}
	return map[string]any{}
}

var compiled = sync.OnceValues(func() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema()))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	const url = "jobs.schema.json"
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	return c.Compile(url)
})

// checkSchema validates one document (as JSON) against Schema and returns
// the first problem as a field error whose field is the path of the
// offending value ("secret_cfg.password"), "" for the document itself.
func checkSchema(doc []byte) error {
	sch, err := compiled()
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return connecthub.Errorf(connecthub.KindInvalid, "a document must be a mapping of job fields")
	}
	err = sch.Validate(inst)
	if err == nil {
		return nil
	}
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return err
	}
	for _, u := range ve.BasicOutput().Errors {
		if u.Error == nil {
			continue
		}
		msg := u.Error.String()
		field := strings.ReplaceAll(strings.TrimPrefix(u.InstanceLocation, "/"), "/", ".")
		// An unknown field is reported at the document; name it.
		if i := strings.Index(msg, "additional properties "); i >= 0 && field == "" {
			name := strings.Trim(strings.TrimPrefix(msg[i:], "additional properties "), "' ")
			name, _, _ = strings.Cut(name, "'")
			return connecthub.FieldError(name, "unknown_field", "unknown field %q", name)
		}
		if field == "" && strings.Contains(msg, "missing propert") {
			name := msg[strings.LastIndex(msg, " ")+1:]
			name = strings.Trim(name, "'")
			return connecthub.FieldError(name, "", "%s is required", name)
		}
		if field == "" {
			continue
		}
		if field == "secret_cfg" || strings.HasPrefix(field, "secret_cfg.") {
			// The message would quote the value, which may be a secret.
			return connecthub.FieldError(field, "", "a secret_cfg value must be a ${ENV} or file:PATH reference, not the secret itself")
		}
		return connecthub.FieldError(field, "", "%s", msg)
	}
	return connecthub.Errorf(connecthub.KindInvalid, "%s", strings.TrimSpace(ve.Error()))
}
