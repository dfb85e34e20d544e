package syncoatodidi

import (
	"encoding/json"

	"github.com/connecthub/connecthub/handler"
)

// zhFields are the Chinese help texts of every property the three
// schemas use; each handler takes those of its own schema.
var zhFields = map[string]string{
	"seeyon_base_url":       "OA 的地址：协议、主机和端口，例如 \"https://oa.example.com:8080\"（末尾的 /seeyon 会被去掉）。客户端调用其下的 /seeyon/rest/...。必填。",
	"seeyon_login_name":     "可选：令牌绑定的 OA 登录名（令牌请求的 loginName），调用即以该用户身份进行。",
	"seeyon_timeout":        "每个发往 OA 的 HTTP 请求（登录、导出及其重试）的时限，时长格式如 \"60s\" 或 \"2m\"。默认 60s；同时受任务超时限制。",
	"template_code":         "要导出的 CAP4 表单模板编号。必填。",
	"right_id":              "导出哪些字段所依据的 CAP4 操作权限 ID；部分 OA 版本需要。",
	"begin_date_time":       "从此日期起导出记录，格式按 OA 的要求（\"2020-01-01\" 或 \"2020-01-01 00:00:00\"）。",
	"end_date_time":         "导出到此日期为止的记录，格式同 begin_date_time。",
	"page":                  "导出的页码，从 1 开始；不填则请求中不带。",
	"page_size":             "导出每页的记录数；不填则请求中不带（OA 会导出全部）。",
	"extra_params":          "导出请求体的其他键，用于特定 OA 版本的要求（例如 {\"doTrigger\": \"false\"}）；与上面同名的键以上面为准。",
	"log_chunk_bytes":       "应答按每行最多这么多字节写入日志，在字符之间切分。256 到 65536；默认 4096。",
	"log_max_bytes":         "应答最多写入日志这么多字节（完整应答在运行结果中）。0 到 1048576；0 表示不写；默认 65536。",
	"employee_number_field": "表单定义中存放工号的字段标签（与滴滴的 employee_number 对应）。默认 工号。",
	"company_field":         "表单定义中存放公司名称的字段标签（与滴滴法人主体名称精确匹配）。默认 所属公司。",
	"didi_base_url":         "滴滴企业版 API 的地址。默认 https://api.es.xiaojukeji.com。",
	"didi_client_id":        "滴滴应用的 client_id（其 client_secret、sign_key 和管理员手机号放在 secret_cfg 中）。必填。",
	"didi_company_id":       "每次调用都带上的滴滴 company_id。必填。",
	"didi_grant_type":       "授权方式。默认 client_credentials。",
	"didi_timeout":          "每个发往滴滴的 HTTP 请求的时限，时长格式如 \"30s\"。默认 30s。",
	"edit_interval":         "两次修改成员之间的停顿，以免超过滴滴的限流，时长 0s 到 1m。默认 150ms。取消或超时会立即结束停顿。",
	"dry_run":               "为 true 时不修改滴滴：运行只报告会更新哪些成员。",
}

// zhCN is a handler's text in Chinese: its description, and the help
// texts of the properties its schema has.
func zhCN(description string, schema []byte) map[string]handler.Text {
	var doc struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	_ = json.Unmarshal(schema, &doc) // the schemas are embedded and tested
	fields := make(map[string]string, len(doc.Properties))
	for name := range doc.Properties {
		if d, ok := zhFields[name]; ok {
			fields[name] = d
		}
	}
	return map[string]handler.Text{"zh-CN": {Description: description, Fields: fields}}
}
