package seeyon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// FormExport is a parsed CAP4 form export: the form's field definitions and
// its main-table records.
//
// # Shape
//
// ParseFormExport reads this JSON (the CAP4 "soap/export" answer):
//
//	{
//	  "code": 0,
//	  "message": "",
//	  "data": {
//	    "data": {
//	      "definition": {
//	        "formName": "员工法人主体登记",
//	        "tableName": "formmain_0412",
//	        "fields": [
//	          {"name": "field0001", "display": "工号",     "fieldType": "VARCHAR"},
//	          {"name": "field0002", "display": "姓名",     "fieldType": "VARCHAR"},
//	          {"name": "field0003", "display": "所属公司", "fieldType": "VARCHAR"}
//	        ]
//	      },
//	      "data": [
//	        {
//	          "id": "-5712368402364717830",
//	          "masterData": {
//	            "field0001": {"value": "E001", "showValue": "E001"},
//	            "field0002": {"value": "张三", "showValue": "张三"},
//	            "field0003": {"value": "7402938475", "showValue": "上海甲科技有限公司"}
//	          },
//	          "subData": {}
//	        }
//	      ],
//	      "total": 1
//	    }
//	  }
//	}
//
// The definition maps each column ("field0001") to the label users see
// ("工号"); a record's masterData holds each column's stored value and its
// display value (for a select or organisation field the value is an ID and
// the display value its name).
//
// Seeyon versions differ in the details, so the parser is lenient where it
// can be without guessing:
//   - a non-zero "code" is an *APIError (see ResultError);
//   - the definition and data may sit directly under "data" instead of
//     "data.data";
//   - a field is any object anywhere inside "definition" that has a string
//     "name" and a label in "display", "displayName", "showName", "label" or
//     "caption" (so nested layouts such as tableInfo/formTable/fieldInfo are
//     found too); the first field with a given name wins;
//   - a record without "masterData" is read as a flat map of columns;
//   - a column's value may be an object with "value" and "showValue" or a
//     bare string, number or boolean;
//   - a record may key its columns by label instead of column name.
type FormExport struct {
	// FormName and TableName come from the definition, when present.
	FormName  string
	TableName string
	// Fields are the fields of the definition, in document order.
	Fields []Field
	// Records are the main-table records, in the order exported.
	Records []Record
}

// Field is one field of a form definition.
type Field struct {
	// Name is the column, e.g. "field0001".
	Name string
	// Display is the label users see, e.g. "工号".
	Display string
	// Type is the field's type as exported, when present.
	Type string
}

// Record is one main-table record.
type Record struct {
	// ID is the record's id, when exported.
	ID string
	// Values are the record's columns, by column name (or label, when the
	// export keys them so).
	Values map[string]Value
}

// Value is one column of a record.
type Value struct {
	// Value is the stored value.
	Value string
	// ShowValue is the display value.
	ShowValue string
}

// String returns the display value, or the stored value when there is no
// display value.
func (v Value) String() string {
	if v.ShowValue != "" {
		return v.ShowValue
	}
	return v.Value
}

// Field returns the field whose label is display (spaces around either are
// ignored).
func (e *FormExport) Field(display string) (Field, bool) {
	display = strings.TrimSpace(display)
	for _, f := range e.Fields {
		if strings.TrimSpace(f.Display) == display {
			return f, true
		}
	}
	return Field{}, false
}

// Labels returns the labels of the definition's fields, for messages that
// list what a form offers.
func (e *FormExport) Labels() []string {
	out := make([]string, 0, len(e.Fields))
	for _, f := range e.Fields {
		out = append(out, f.Display)
	}
	return out
}

// Get returns the record's value of field f, looked up by column name and
// then by label.
func (r Record) Get(f Field) (Value, bool) {
	if v, ok := r.Values[f.Name]; ok {
		return v, true
	}
	v, ok := r.Values[f.Display]
	return v, ok
}

// ResultError returns an *APIError when body is a JSON object whose "code"
// reports a failure, nil otherwise (success codes 0 and 200, no "code", or a
// body that is not a JSON object). CAP4 services answer HTTP 200 even when
// they fail, so a caller that cares must look inside.
func ResultError(body []byte) error {
	b := bytes.TrimPrefix(bytes.TrimSpace(body), []byte("\ufeff"))
	if len(b) == 0 || b[0] != '{' {
		return nil
	}
	var env struct {
		Code    json.RawMessage `json:"code"`
		Message json.RawMessage `json:"message"`
		Msg     json.RawMessage `json:"msg"`
	}
	if json.Unmarshal(b, &env) != nil {
		return nil
	}
	code := scalarString(env.Code)
	switch code {
	case "", "0", "200":
		return nil
	}
	msg := scalarString(env.Message)
	if msg == "" {
		msg = scalarString(env.Msg)
	}
	return &APIError{Code: code, Message: msg}
}

// ParseFormExport parses a CAP4 form export in the shape documented on
// FormExport.
func ParseFormExport(body []byte) (*FormExport, error) {
	if err := ResultError(body); err != nil {
		return nil, err
	}
	b := bytes.TrimPrefix(bytes.TrimSpace(body), []byte("\ufeff"))
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("seeyon: the form export is not valid JSON: %w", err)
	}
	payload := findPayload(root)
	if payload == nil {
		return nil, errors.New(`seeyon: the form export has no "definition" or "data" (expected them under "data.data")`)
	}
	out := &FormExport{}
	if def, ok := payload["definition"].(map[string]any); ok {
		out.FormName = stringOf(def["formName"])
		out.TableName = stringOf(def["tableName"])
		seen := make(map[string]bool)
		collectFields(def, seen, &out.Fields)
	}
	rows, err := recordsOf(payload["data"])
	if err != nil {
		return nil, err
	}
	for i, row := range rows {
		item, ok := row.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("seeyon: form export record %d is not an object", i+1)
		}
		out.Records = append(out.Records, parseRecord(item))
	}
	return out, nil
}

// findPayload returns the object holding "definition" and "data": root's
// "data.data", else root's "data", else root itself.
func findPayload(root any) map[string]any {
	isPayload := func(v any) (map[string]any, bool) {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		_, hasDef := m["definition"]
		return m, hasDef || isRecordList(m["data"])
	}
	top, ok := root.(map[string]any)
	if !ok {
		return nil
	}
	if data, ok := top["data"].(map[string]any); ok {
		if m, ok := isPayload(data["data"]); ok {
			return m
		}
		if m, ok := isPayload(data); ok {
			return m
		}
	}
	if m, ok := isPayload(top); ok {
		return m
	}
	return nil
}

// isRecordList reports whether v is an array (of records).
func isRecordList(v any) bool {
	_, ok := v.([]any)
	return ok
}

// recordsOf returns the records array; absent or null means none.
func recordsOf(v any) ([]any, error) {
	switch d := v.(type) {
	case nil:
		return nil, nil
	case []any:
		return d, nil
	default:
		return nil, errors.New(`seeyon: the form export's "data" is not an array of records`)
	}
}

// labelKeys are the keys a field definition may carry its label in.
var labelKeys = []string{"display", "displayName", "showName", "label", "caption"}

// collectFields appends every field definition found in v, depth first,
// arrays in order and object keys sorted (so the result does not depend on
// map iteration order).
func collectFields(v any, seen map[string]bool, out *[]Field) {
	switch node := v.(type) {
	case map[string]any:
		if name := stringOf(node["name"]); name != "" && !seen[name] {
			for _, k := range labelKeys {
				if label := stringOf(node[k]); label != "" {
					seen[name] = true
					typ := stringOf(node["fieldType"])
					if typ == "" {
						typ = stringOf(node["type"])
					}
					*out = append(*out, Field{Name: name, Display: label, Type: typ})
					break
				}
			}
		}
		keys := make([]string, 0, len(node))
		for k := range node {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		// Visit "fields" first: it is where the main table's fields are, and
		// the first field with a label wins.
		if i := slices.Index(keys, "fields"); i > 0 {
			keys = append(append([]string{"fields"}, keys[:i]...), keys[i+1:]...)
		}
		for _, k := range keys {
			collectFields(node[k], seen, out)
		}
	case []any:
		for _, item := range node {
			collectFields(item, seen, out)
		}
	}
}

// parseRecord reads one record.
func parseRecord(item map[string]any) Record {
	r := Record{ID: stringOf(item["id"]), Values: make(map[string]Value)}
	master, ok := item["masterData"].(map[string]any)
	if !ok {
		master = item
	}
	if r.ID == "" {
		r.ID = stringOf(master["id"])
	}
	for k, v := range master {
		switch val := v.(type) {
		case map[string]any:
			_, hasValue := val["value"]
			_, hasShow := val["showValue"]
			if hasValue || hasShow {
				r.Values[k] = Value{Value: stringOf(val["value"]), ShowValue: stringOf(val["showValue"])}
			}
		case string, json.Number, bool:
			s := stringOf(val)
			r.Values[k] = Value{Value: s, ShowValue: s}
		}
	}
	return r
}

// stringOf returns a JSON scalar's text, "" for anything else.
func stringOf(v any) string {
	switch s := v.(type) {
	case string:
		return strings.TrimSpace(s)
	case json.Number:
		return s.String()
	case bool:
		if s {
			return "true"
		}
		return "false"
	}
	return ""
}
