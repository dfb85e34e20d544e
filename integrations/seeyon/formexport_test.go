package seeyon

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/connecthub/connecthub/integrations/seeyon/seeyontest"
)

func TestParseFormExportFixture(t *testing.T) {
	t.Parallel()
	body, err := os.ReadFile("testdata/cap4_export.json")
	if err != nil {
		t.Fatal(err)
	}
	exp, err := ParseFormExport(body)
	if err != nil {
		t.Fatal(err)
	}
	if exp.FormName != "员工法人主体登记" || exp.TableName != "formmain_0412" {
		t.Errorf("form = %q / %q", exp.FormName, exp.TableName)
	}
	wantLabels := []string{"工号", "姓名", "所属公司", "入职日期", "工号", "备注"}
	if got := exp.Labels(); !reflect.DeepEqual(got, wantLabels) {
		t.Errorf("labels = %q, want %q (main table first, then the sub-table)", got, wantLabels)
	}
	emp, ok := exp.Field("工号")
	if !ok || emp.Name != "field0001" || emp.Type != "VARCHAR" {
		t.Fatalf("Field(工号) = %+v, %v; want the main table's field0001", emp, ok)
	}
	company, ok := exp.Field(" 所属公司 ")
	if !ok || company.Name != "field0003" {
		t.Fatalf("Field(所属公司) = %+v, %v", company, ok)
	}
	if _, ok := exp.Field("部门"); ok {
		t.Error("Field(部门) found a field that does not exist")
	}
	if len(exp.Records) != 2 {
		t.Fatalf("records = %d, want 2", len(exp.Records))
	}
	tests := []struct {
		record  int
		field   Field
		want    string
		wantRaw string
	}{
		{0, emp, "E001", "E001"},
		{0, company, "上海甲科技有限公司", "7402938475561234"},
		{1, emp, "1002", "1002"},                  // a number, no showValue
		{1, company, "北京乙信息技术有限公司", ""},           // showValue only
		{1, Field{Name: "field0002"}, "李四", "李四"}, // a bare string
	}
	for _, tt := range tests {
		v, ok := exp.Records[tt.record].Get(tt.field)
		if !ok || v.String() != tt.want || v.Value != tt.wantRaw {
			t.Errorf("record %d %s = %+v, %v; want %q (value %q)", tt.record, tt.field.Name, v, ok, tt.want, tt.wantRaw)
		}
	}
	if exp.Records[0].ID != "-5712368402364717830" || exp.Records[1].ID != "8810023391734001" {
		t.Errorf("ids = %q, %q (large numbers must keep every digit)", exp.Records[0].ID, exp.Records[1].ID)
	}
}

func TestParseFormExportVariants(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		body    string
		field   string // a label to look up
		want    []string
		wantErr string
	}{
		{
			name:  "definition and data directly under data",
			body:  `{"code":"0","data":{"definition":{"fields":[{"name":"field0001","display":"工号"}]},"data":[{"masterData":{"field0001":{"value":"E9","showValue":"E9"}}}]}}`,
			field: "工号",
			want:  []string{"E9"},
		},
		{
			name:  "nested tableInfo layout with showName",
			body:  `{"code":0,"data":{"data":{"definition":{"tableInfo":{"formTable":{"fieldInfo":[{"name":"field0007","showName":"工号"}]}}},"data":[{"masterData":{"field0007":"E7"}}]}}}`,
			field: "工号",
			want:  []string{"E7"},
		},
		{
			name:  "records without masterData, keyed by label",
			body:  `{"data":{"data":{"definition":{"fields":[{"name":"field0001","label":"工号"}]},"data":[{"工号":"E1"},{"工号":"E2"}]}}}`,
			field: "工号",
			want:  []string{"E1", "E2"},
		},
		{
			name:  "no records",
			body:  `{"code":200,"data":{"data":{"definition":{"fields":[{"name":"field0001","display":"工号"}]},"data":null}}}`,
			field: "工号",
			want:  nil,
		},
		{name: "error code", body: `{"code":"1002","message":"no form template X"}`, wantErr: "code 1002: no form template X"},
		{name: "not JSON", body: `<html>login</html>`, wantErr: "not valid JSON"},
		{name: "no payload", body: `{"code":0,"data":{"rows":[]}}`, wantErr: `no "definition" or "data"`},
		{name: "data not an array", body: `{"code":0,"data":{"definition":{},"data":"x"}}`, wantErr: "not an array"},
		{name: "record not an object", body: `{"code":0,"data":{"definition":{},"data":[1]}}`, wantErr: "record 1 is not an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			exp, err := ParseFormExport([]byte(tt.body))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			f, ok := exp.Field(tt.field)
			if !ok {
				t.Fatalf("no field %q in %q", tt.field, exp.Labels())
			}
			var got []string
			for _, r := range exp.Records {
				v, _ := r.Get(f)
				got = append(got, v.String())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("values = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestResultError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body string
		want string // "" means no error
	}{
		{body: `{"code":0,"data":{}}`},
		{body: `{"code":"0"}`},
		{body: `{"code":200}`},
		{body: `{"data":{}}`},
		{body: `not json`},
		{body: `[1,2]`},
		{body: ``},
		{body: `{"code":1010,"message":"Invalid token"}`, want: "seeyon: the OA answered code 1010: Invalid token"},
		{body: `{"code":"500","msg":"internal"}`, want: "seeyon: the OA answered code 500: internal"},
		{body: "\ufeff" + `{"code":-1}`, want: "seeyon: the OA answered code -1"},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			t.Parallel()
			err := ResultError([]byte(tt.body))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				return
			}
			var apiErr *APIError
			if !errors.As(err, &apiErr) || err.Error() != tt.want {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestFakeExportParses keeps the fake server's export in the documented
// shape: what the fake builds, the parser reads.
func TestFakeExportParses(t *testing.T) {
	t.Parallel()
	body := seeyontest.BuildFormExport("HR1",
		[]seeyontest.Field{{Name: "field0001", Display: "工号"}, {Name: "field0003", Display: "所属公司"}},
		[]map[string]string{{"工号": "E1", "所属公司": "甲"}, {"工号": "E2"}})
	exp, err := ParseFormExport(body)
	if err != nil {
		t.Fatal(err)
	}
	emp, _ := exp.Field("工号")
	company, _ := exp.Field("所属公司")
	if len(exp.Records) != 2 {
		t.Fatalf("records = %d", len(exp.Records))
	}
	if v, _ := exp.Records[0].Get(emp); v.String() != "E1" {
		t.Errorf("record 0 工号 = %q", v)
	}
	if v, _ := exp.Records[0].Get(company); v.String() != "甲" {
		t.Errorf("record 0 所属公司 = %q", v)
	}
	if v, ok := exp.Records[1].Get(company); !ok || v.String() != "" {
		t.Errorf("record 1 所属公司 = %q, %v; want present and empty", v, ok)
	}
}
