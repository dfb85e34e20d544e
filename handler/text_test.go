package handler_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/connecthub/connecthub/handler"
)

func TestSpecText(t *testing.T) {
	t.Parallel()
	s := handler.Spec{
		Name: "t", Description: "English", Func: func(context.Context, *handler.Task) (*handler.Result, error) { return nil, nil },
		ConfigSchema: json.RawMessage(`{"type":"object","properties":{"url":{"description":"The URL."},"n":{}}}`),
		Translations: map[string]handler.Text{"zh-CN": {Description: "中文", Fields: map[string]string{"url": "地址。"}}, "fr": {Fields: map[string]string{"n": "nombre"}}},
	}
	if got := s.Text("zh-CN"); got.Description != "中文" || got.Fields["url"] != "地址。" {
		t.Errorf("zh-CN: %+v", got)
	}
	if got := s.Text("fr"); got.Description != "English" || got.Fields["n"] != "nombre" {
		t.Errorf("a translation without a description keeps the English one: %+v", got)
	}
	if got := s.Text("en"); got.Description != "English" || got.Fields != nil {
		t.Errorf("en: %+v", got)
	}
	if err := handler.NewRegistry().Add(s); err != nil {
		t.Fatal(err)
	}
	s.Name, s.Translations = "typo", map[string]handler.Text{"zh-CN": {Fields: map[string]string{"ulr": "地址"}}}
	if err := handler.NewRegistry().Add(s); err == nil || !strings.Contains(err.Error(), `"ulr"`) {
		t.Errorf("a translation of a field the schema lacks: %v", err)
	}
}
