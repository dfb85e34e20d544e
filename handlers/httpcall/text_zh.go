package httpcall

import "github.com/connecthub/connecthub/handler"

// zhCN is the handler's description and its schema's help texts in
// Chinese, for the admin UI.
var zhCN = handler.Text{
	Description: "发送一个 HTTP 请求，url、请求头和请求体中的 {{secret.KEY}} 占位符会替换为密钥；状态码不符合预期时运行失败。",
	Fields: map[string]string{
		"method":           "请求方法，大写。默认 GET。",
		"url":              "要调用的 http:// 或 https:// 地址，可以包含 {{secret.KEY}} 占位符（原样插入，所以请保存 URL 编码后的值）。必填。",
		"headers":          "按名称给出的请求头，例如 {\"Authorization\": \"Bearer {{secret.TOKEN}}\"}。名称和值都可以包含 {{secret.KEY}} 占位符。从不写入日志。",
		"body":             "请求体：字符串原样发送；对象或数组以 JSON 发送，并且在请求头未指定时使用 Content-Type application/json。字符串以及对象或数组中每个字符串里的 {{secret.KEY}} 占位符都会被替换。",
		"expect_status":    "视为成功的状态码，例如 [200, 201]。默认任意 2xx。",
		"timeout":          "等待响应的最长时间，Go 时长格式（\"30s\"、\"1m30s\"）。默认 30s；\"0s\" 表示只受运行本身的超时限制。",
		"follow_redirects": "跟随哪些重定向：same_host（默认）只跟随到相同协议、主机和端口的重定向；none 都不跟随；any 跟随所有重定向（最多 10 次），但跳到其他主机时丢弃含有密钥的请求头、Referer 和请求体。未跟随的重定向即为响应，除非 expect_status 列出它，否则运行失败。",
	},
}
