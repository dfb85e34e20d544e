package adminui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/connecthub/connecthub/internal/service"
)

// newHandlerView describes a handler for the form in the page's language.
// Its schema's top-level properties become documented fields, in the order
// the author wrote them; the handler's translation, when it has one for
// lang, replaces its description and its fields' help texts.
func newHandlerView(h service.HandlerInfo, lang string) handlerView {
	tr := h.Translations[lang]
	hv := handlerView{Name: h.Name, Description: h.Description, SecretKeys: h.SecretKeys}
	if tr.Description != "" {
		hv.Description = tr.Description
	}
	raw := schemaBytes(h.ConfigSchema)
	if len(raw) == 0 {
		return hv
	}
	fields, err := schemaFields(raw)
	if err != nil {
		// The service reports a broken schema when a job is saved; the form
		// just offers no fields.
		return hv
	}
	for i := range fields {
		if d := tr.Fields[fields[i].Name]; d != "" {
			fields[i].Description = d
		}
	}
	hv.Fields = fields
	hv.Example = exampleConfig(fields)
	return hv
}

// schemaBytes accepts the schema as the service hands it out.
func schemaBytes(v any) json.RawMessage {
	switch s := v.(type) {
	case nil:
		return nil
	case json.RawMessage:
		return s
	case []byte:
		return s
	default:
		b, err := json.Marshal(s)
		if err != nil {
			return nil
		}
		return b
	}
}

// schemaFields reads the top-level properties of an object schema.
func schemaFields(raw json.RawMessage) ([]schemaField, error) {
	var doc struct {
		Properties json.RawMessage `json:"properties"`
		Required   []string        `json:"required"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	names, props, err := orderedObject(doc.Properties)
	if err != nil {
		return nil, err
	}
	required := map[string]bool{}
	for _, n := range doc.Required {
		required[n] = true
	}
	fields := make([]schemaField, 0, len(names))
	for _, name := range names {
		var p struct {
			Type        json.RawMessage   `json:"type"`
			Description string            `json:"description"`
			Enum        []json.RawMessage `json:"enum"`
			Default     json.RawMessage   `json:"default"`
		}
		if err := json.Unmarshal(props[name], &p); err != nil {
			return nil, fmt.Errorf("property %s: %w", name, err)
		}
		f := schemaField{Name: name, Description: p.Description, Required: required[name], Type: typeNames(p.Type)}
		if len(p.Default) > 0 {
			f.Default = jsonScalarText(p.Default)
		}
		for _, e := range p.Enum {
			f.Enum = append(f.Enum, jsonScalarText(e))
		}
		switch {
		case len(f.Enum) > 0 && (f.Type == "string" || f.Type == ""):
			f.Input = "select"
		case f.Type == "string":
			f.Input = "text"
		case f.Type == "number":
			f.Input = "number"
		case f.Type == "integer":
			f.Input = "integer"
		case f.Type == "boolean":
			f.Input = "checkbox"
		}
		fields = append(fields, f)
	}
	return fields, nil
}

// orderedObject decodes a JSON object keeping the order of its keys, which
// encoding/json's maps lose.
func orderedObject(raw json.RawMessage) ([]string, map[string]json.RawMessage, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, fmt.Errorf("properties must be an object")
	}
	var names []string
	values := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		name, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, err
		}
		if _, dup := values[name]; !dup {
			names = append(names, name)
		}
		values[name] = v
	}
	return names, values, nil
}

// typeNames renders "type": "string" or ["string","object"].
func typeNames(raw json.RawMessage) string {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return one
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil {
		return strings.Join(many, " | ")
	}
	return ""
}

// jsonScalarText shows a JSON value as a person types it: strings without
// quotes, anything else as JSON.
func jsonScalarText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(bytes.TrimSpace(raw))
}

// exampleConfig builds a public_cfg skeleton: every required property and
// every property with a default, with its default or an empty value of its
// type, so a person starts from something the schema accepts.
func exampleConfig(fields []schemaField) string {
	var buf bytes.Buffer
	buf.WriteString("{")
	n := 0
	for _, f := range fields {
		if !f.Required && f.Default == "" {
			continue
		}
		var v string
		switch {
		case f.Default != "" && (f.Type == "string" || f.Input == "select"):
			b, _ := json.Marshal(f.Default)
			v = string(b)
		case f.Default != "":
			v = f.Default
		case f.Type == "number" || f.Type == "integer":
			v = "0"
		case f.Type == "boolean":
			v = "false"
		case f.Type == "object":
			v = "{}"
		case f.Type == "array":
			v = "[]"
		default:
			v = `""`
		}
		if n > 0 {
			buf.WriteString(",")
		}
		name, _ := json.Marshal(f.Name)
		fmt.Fprintf(&buf, "\n  %s: %s", name, v)
		n++
	}
	if n > 0 {
		buf.WriteString("\n")
	}
	buf.WriteString("}")
	return buf.String()
}
