// Package task holds the helpers the built-in handlers share to read a
// [handler.Task]: strict decoding of public_cfg and a logger that is never
// nil.
package task

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"strings"

	"github.com/connecthub/connecthub/handler"
)

// Decode decodes the task's public_cfg into dst, a pointer to a struct whose
// fields carry json tags.
//
// It is stricter than [handler.Task.Bind] on purpose: a key that the struct
// does not declare (matched exactly, not case-insensitively as encoding/json
// would) is an error, because a misspelt key such as "sconds" would otherwise
// silently fall back to a default and the job would do something other than
// what its author wrote. An empty or null public_cfg leaves dst untouched, so
// every key takes its default.
//
// Every error is wrapped by [handler.Permanent]: retrying a run cannot fix its
// configuration.
func Decode(t *handler.Task, dst any) error {
	if t == nil {
		return handler.Permanent(errors.New("handler called without a task"))
	}
	raw := bytes.TrimSpace(t.Config)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	var keys map[string]json.RawMessage
	if raw[0] != '{' || json.Unmarshal(raw, &keys) != nil {
		return handler.Permanent(errors.New("public_cfg must be a JSON object"))
	}
	allowed := jsonNames(reflect.TypeOf(dst))
	var unknown []string
	for k := range keys {
		if _, ok := allowed[k]; !ok {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		known := make([]string, 0, len(allowed))
		for k := range allowed {
			known = append(known, k)
		}
		sort.Strings(known)
		return handler.Permanent(fmt.Errorf("public_cfg: unknown key %q (known keys: %s)",
			unknown[0], strings.Join(known, ", ")))
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return handler.Permanent(describe(err))
	}
	return nil
}

// jsonNames returns the json names of the fields of the struct that typ
// points to.
func jsonNames(typ reflect.Type) map[string]struct{} {
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	names := make(map[string]struct{})
	if typ.Kind() != reflect.Struct {
		return names
	}
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		names[name] = struct{}{}
	}
	return names
}

// describe turns an encoding/json error into a message in terms of the JSON
// the user wrote ("public_cfg.seconds must be a number, not a string")
// rather than the Go types the handler decodes into.
func describe(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := "public_cfg"
		if te.Field != "" {
			field += "." + te.Field
		}
		return fmt.Errorf("%s must be %s, not %s", field, jsonKind(te.Type), article(te.Value))
	}
	return fmt.Errorf("public_cfg: %w", err)
}

// jsonKind names the JSON type that a Go type is decoded from.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	default:
		return "a " + t.String()
	}
}

// article prefixes encoding/json's description of a value ("string",
// "number 1.5", "object") with "a" or "an".
func article(v string) string {
	if v == "" {
		return "something else"
	}
	switch v[0] {
	case 'a', 'e', 'i', 'o', 'u':
		return "an " + v
	}
	return "a " + v
}

// Logger returns the task's logger, or one that discards everything when the
// caller left it nil (a unit test, a tool calling a handler directly), so the
// handlers never have to check.
func Logger(t *handler.Task) *slog.Logger {
	if t != nil && t.Log != nil {
		return t.Log
	}
	return slog.New(slog.DiscardHandler)
}
