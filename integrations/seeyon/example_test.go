package seeyon_test

import (
	"context"
	"fmt"
	"log"

	"github.com/connecthub/connecthub/integrations/seeyon"
)

// Exporting a CAP4 form and reading one field of each record by its label.
func ExampleClient_ExportForm() {
	c, err := seeyon.New(seeyon.Config{
		BaseURL:      "https://oa.example.com",
		RESTUser:     "rest",
		RESTPassword: "your-rest-password",
	})
	if err != nil {
		log.Fatal(err)
	}
	resp, err := c.ExportForm(context.Background(), seeyon.ExportRequest{TemplateCode: "HR_LEGAL_001"})
	if err != nil {
		log.Fatal(err)
	}
	exp, err := seeyon.ParseFormExport(resp.Body)
	if err != nil {
		log.Fatal(err)
	}
	field, ok := exp.Field("工号")
	if !ok {
		log.Fatalf("no 工号 among %q", exp.Labels())
	}
	for _, r := range exp.Records {
		v, _ := r.Get(field)
		fmt.Println(v)
	}
}

func ExampleParseFormExport() {
	body := []byte(`{"code":0,"data":{"data":{
		"definition":{"fields":[{"name":"field0001","display":"工号"},{"name":"field0003","display":"所属公司"}]},
		"data":[{"masterData":{
			"field0001":{"value":"E001","showValue":"E001"},
			"field0003":{"value":"7402938475561234","showValue":"上海甲科技有限公司"}}}]}}}`)
	exp, err := seeyon.ParseFormExport(body)
	if err != nil {
		log.Fatal(err)
	}
	company, _ := exp.Field("所属公司")
	v, _ := exp.Records[0].Get(company)
	fmt.Println(company.Name, v.Value, v)
	// Output: field0003 7402938475561234 上海甲科技有限公司
}
