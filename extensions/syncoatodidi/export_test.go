package syncoatodidi

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/integrations/seeyon/seeyontest"
)

func TestExportFormHandler(t *testing.T) {
	t.Parallel()
	oa := seeyontest.NewServer(t, seeyontest.Options{Rejection: seeyontest.RejectBody})
	oa.SetFormExport("HR1",
		[]seeyontest.Field{{Name: "field0001", Display: "工号"}, {Name: "field0002", Display: "所属公司"}},
		[]map[string]string{{"工号": "E001", "所属公司": "上海甲科技有限公司"}})
	want := seeyontest.BuildFormExport("HR1",
		[]seeyontest.Field{{Name: "field0001", Display: "工号"}, {Name: "field0002", Display: "所属公司"}},
		[]map[string]string{{"工号": "E001", "所属公司": "上海甲科技有限公司"}})

	task, rec := newTask(t, obj{
		"seeyon_base_url": oa.URL,
		"template_code":   "HR1",
		"right_id":        "-1.2",
		"page":            1,
		"page_size":       100,
		"extra_params":    obj{"doTrigger": "false"},
	}, oaSecrets())
	res, err := spec(t, ExportFormName).Func(t.Context(), task)
	if err != nil {
		t.Fatal(err)
	}
	data := res.Data.(map[string]any)
	meta := data["meta"].(map[string]any)
	if data["raw"] != string(want) {
		t.Errorf("raw = %s, want %s", data["raw"], want)
	}
	if meta["content_length"] != int64(len(want)) || meta["content_type"] != "application/json;charset=UTF-8" {
		t.Errorf("meta = %v", meta)
	}
	if wantMsg := fmt.Sprintf("exported form HR1: %d bytes (application/json;charset=UTF-8)", len(want)); res.Message != wantMsg {
		t.Errorf("message = %q, want %q", res.Message, wantMsg)
	}
	body := oa.Exports()[0]
	if body["templateCode"] != "HR1" || body["rightId"] != "-1.2" || body["pageSize"] != float64(100) || body["doTrigger"] != "false" {
		t.Errorf("export request = %v", body)
	}
	// A small body is logged in one part.
	var parts []string
	for _, r := range rec.all() {
		if r.msg == "response body" {
			parts = append(parts, r.attrs["part"]+" "+r.attrs["body"])
		}
	}
	if len(parts) != 1 || parts[0] != "1/1 "+string(want) {
		t.Errorf("logged parts = %q", parts)
	}
	if tok := oa.Tokens()[0]; strings.Contains(rec.text(), tok) {
		t.Error("the token was logged")
	}
}

// TestExportFormLogsInChunks exports a large body of Chinese text and checks
// the chunks: each within the limit, each valid UTF-8, together the start of
// the body, bounded in total with a closing note.
func TestExportFormLogsInChunks(t *testing.T) {
	t.Parallel()
	// 3-byte characters with a 1-byte offset, so that chunk limits fall
	// inside characters.
	big := []byte("x" + strings.Repeat("所属公司工号", 2000)) // 36,001 bytes
	tests := []struct {
		name      string
		chunk     any // nil: the default
		max       any
		wantParts int
		wantBytes int // logged
	}{
		{name: "defaults", wantParts: 9, wantBytes: len(big)},
		{name: "bounded total", chunk: 1000, max: 10000, wantParts: 10, wantBytes: 9991},
		{name: "nothing logged", max: 0, wantParts: 0, wantBytes: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			oa := seeyontest.NewServer(t, seeyontest.Options{})
			oa.SetForm("BIG", big, "text/plain; charset=utf-8")
			cfg := obj{"seeyon_base_url": oa.URL, "template_code": "BIG"}
			chunk := DefaultLogChunkBytes
			if tt.chunk != nil {
				cfg["log_chunk_bytes"] = tt.chunk
				chunk = tt.chunk.(int)
			}
			if tt.max != nil {
				cfg["log_max_bytes"] = tt.max
			}
			task, rec := newTask(t, cfg, oaSecrets())
			res, err := spec(t, ExportFormName).Func(t.Context(), task)
			if err != nil {
				t.Fatal(err)
			}
			if raw := res.Data.(map[string]any)["raw"]; raw != string(big) {
				t.Errorf("the result lost part of the body (%d bytes)", len(raw.(string)))
			}
			var logged bytes.Buffer
			var parts int
			var truncatedNote bool
			for _, r := range rec.all() {
				switch r.msg {
				case "response body":
					parts++
					piece := r.attrs["body"]
					if len(piece) > chunk {
						t.Errorf("part %s is %d bytes, over %d", r.attrs["part"], len(piece), chunk)
					}
					if !utf8.ValidString(piece) {
						t.Errorf("part %s is cut inside a character", r.attrs["part"])
					}
					logged.WriteString(piece)
				case "response body truncated in the run log; the whole body is in the run's result":
					truncatedNote = true
					if r.attrs["total_bytes"] != fmt.Sprint(len(big)) || r.attrs["logged_bytes"] != fmt.Sprint(tt.wantBytes) {
						t.Errorf("note attrs = %v", r.attrs)
					}
				}
			}
			if parts != tt.wantParts || logged.Len() != tt.wantBytes {
				t.Errorf("logged %d parts, %d bytes; want %d, %d", parts, logged.Len(), tt.wantParts, tt.wantBytes)
			}
			if !bytes.HasPrefix(big, logged.Bytes()) {
				t.Error("the parts do not add up to the start of the body")
			}
			if truncatedNote != (tt.wantBytes < len(big)) {
				t.Errorf("truncation note = %v", truncatedNote)
			}
		})
	}
}

func TestSplitChunks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		n    int
		want []string
	}{
		{in: "abcdef", n: 4, want: []string{"abcd", "ef"}},
		{in: "abcd", n: 4, want: []string{"abcd"}},
		{in: "a工号", n: 3, want: []string{"a", "工", "号"}},
		{in: "a工号", n: 4, want: []string{"a工", "号"}},
		{in: "工", n: 2, want: []string{"\xe5\xb7", "\xa5"}}, // a character longer than n is cut
		{in: "\xff\xfe\xfd\xfc\xfb", n: 2, want: []string{"\xff\xfe", "\xfd\xfc", "\xfb"}},
		{in: "😀😀", n: 5, want: []string{"😀", "😀"}},
	}
	for _, tt := range tests {
		var got []string
		for _, p := range splitChunks([]byte(tt.in), tt.n) {
			got = append(got, string(p))
		}
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("splitChunks(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestLogChunksEmptyBody(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	if n := logChunks(slog.New(rec), nil, 4096, 65536); n != 0 || len(rec.all()) != 0 {
		t.Errorf("an empty body logged %d bytes in %d lines", n, len(rec.all()))
	}
}

func TestExportFormFailures(t *testing.T) {
	t.Parallel()
	oa := seeyontest.NewServer(t, seeyontest.Options{})
	base := func(extra obj) obj {
		cfg := obj{"seeyon_base_url": oa.URL, "template_code": "HR1"}
		for k, v := range extra {
			cfg[k] = v
		}
		return cfg
	}
	tests := []struct {
		name      string
		config    obj
		wantErr   string
		permanent bool
	}{
		{name: "OA error code", config: base(obj{"template_code": "NOPE"}),
			wantErr: "exporting form NOPE: seeyon: the OA answered code 1002: no form template NOPE"},
		{name: "no template", config: base(obj{"template_code": " "}), wantErr: "public_cfg.template_code is required", permanent: true},
		{name: "negative page", config: base(obj{"page": -1}), wantErr: "public_cfg.page must be at least 1", permanent: true},
		{name: "chunk too small", config: base(obj{"log_chunk_bytes": 10}), wantErr: "log_chunk_bytes must be between 256 and 65536", permanent: true},
		{name: "max too large", config: base(obj{"log_max_bytes": 1 << 30}), wantErr: "log_max_bytes must be between 0 and 1048576", permanent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			task, rec := newTask(t, tt.config, oaSecrets())
			_, err := spec(t, ExportFormName).Func(t.Context(), task)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
			if handler.IsPermanent(err) != tt.permanent {
				t.Errorf("permanent = %v, want %v", handler.IsPermanent(err), tt.permanent)
			}
			if tt.name == "OA error code" && !strings.Contains(rec.text(), "no form template NOPE") {
				t.Error("the failed answer was not logged")
			}
		})
	}
}
