package handler

// The helpers of this file are what the built-in handlers use to read a
// Task; they are public so that a handler outside this module reads its
// configuration the same strict way instead of copying them.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"strings"
)

// Decode decodes the task's public_cfg into dst, a pointer to a struct whose
// fields carry json tags. The fields of an embedded struct without a json
// name are keys at the top level, as encoding/json treats them, so a handler
// may compose its configuration from shared parts.
//
// It is stricter than [Task.Bind] on purpose: a key that the struct
// does not declare (matched exactly, not case-insensitively as encoding/json
// would) is an error, because a misspelt key such as "sconds" would otherwise
// silently fall back to a default and the job would do something other than
// what its author wrote. An empty or null public_cfg leaves dst untouched, so
// every key takes its default.
//
// Every error is wrapped by [Permanent]: retrying a run cannot fix its
// configuration. Decode may be called on a nil *Task (a handler called
// directly without one), which is such an error too.
func (t *Task) Decode(dst any) error {
	if t == nil {
		return Permanent(errors.New("handler called without a task"))
	}
	raw := bytes.TrimSpace(t.Config)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	var keys map[string]json.RawMessage
	if raw[0] != '{' || json.Unmarshal(raw, &keys) != nil {
		return Permanent(errors.New("public_cfg must be a JSON object"))
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
		return Permanent(fmt.Errorf("public_cfg: unknown key %q (known keys: %s)",
			unknown[0], strings.Join(known, ", ")))
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return Permanent(describe(reflect.TypeOf(dst), err))
	}
	return nil
}

// jsonNames returns the json names of the fields of the struct that typ
// points to, with the fields of embedded structs promoted as encoding/json
// promotes them.
func jsonNames(typ reflect.Type) map[string]struct{} {
	names := make(map[string]struct{})
	addJSONNames(names, typ)
	return names
}

func addJSONNames(names map[string]struct{}, typ reflect.Type) {
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	if typ.Kind() != reflect.Struct {
		return
	}
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" && f.Anonymous && isStruct(f.Type) {
			// An embedded struct, even of an unexported type, lends its
			// exported fields to the outer object.
			addJSONNames(names, f.Type)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names[name] = struct{}{}
	}
}

// isStruct reports whether typ is a struct or a pointer to one.
func isStruct(typ reflect.Type) bool {
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	return typ.Kind() == reflect.Struct
}

// jsonPath rewrites the path encoding/json gives in an UnmarshalTypeError
// in terms of the JSON the user wrote: it names an embedded struct by its Go
// type ("exportConfig.page"), while its fields are keys of the outer object
// ("page").
func jsonPath(typ reflect.Type, path string) string {
	var out []string
	for seg := range strings.SplitSeq(path, ".") {
		for typ != nil && typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		if typ == nil || typ.Kind() != reflect.Struct {
			out, typ = append(out, seg), nil
			continue
		}
		if f, ok := typ.FieldByName(seg); ok && f.Anonymous && isStruct(f.Type) && strings.Split(f.Tag.Get("json"), ",")[0] == "" {
			typ = f.Type
			continue
		}
		out, typ = append(out, seg), fieldType(typ, seg)
	}
	return strings.Join(out, ".")
}

// fieldType returns the type of the field of struct typ (or of the structs it
// embeds) whose json name is name, nil when there is none.
func fieldType(typ reflect.Type, name string) reflect.Type {
	for i := range typ.NumField() {
		f := typ.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case tag == "-":
		case tag == "" && f.Anonymous && isStruct(f.Type):
			inner := f.Type
			for inner.Kind() == reflect.Pointer {
				inner = inner.Elem()
			}
			if ft := fieldType(inner, name); ft != nil {
				return ft
			}
		case tag == name || (tag == "" && f.Name == name):
			return f.Type
		}
	}
	return nil
}

// describe turns an encoding/json error into a message in terms of the JSON
// the user wrote ("public_cfg.seconds must be a number, not a string")
// rather than the Go types the handler decodes into.
func describe(dst reflect.Type, err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := "public_cfg"
		if te.Field != "" {
			field += "." + jsonPath(dst, te.Field)
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
// caller left it nil (a unit test, a tool calling a handler directly), so a
// handler never has to check. It may be called on a nil *Task.
func (t *Task) Logger() *slog.Logger {
	if t != nil && t.Log != nil {
		return t.Log
	}
	return slog.New(slog.DiscardHandler)
}
