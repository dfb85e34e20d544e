// Package syncoatodidi holds the example jobs that connect a Seeyon OA to
// the Didi enterprise platform, built on the integrations/seeyon and
// integrations/didi clients:
//
//   - sync_oa_to_didi.token logs in to the OA to check the REST credentials;
//   - sync_oa_to_didi.export_form exports a CAP4 form and returns the raw
//     answer, logging it in chunks;
//   - sync_oa_to_didi.legal_entity_sync sets each Didi member's legal entity
//     (法人主体) from the 所属公司 (company) that an OA form records for the
//     member's 工号 (employee number).
//
// They are not registered by default: call Register (or
// RegisterWithOptions) on the registry a binary serves. The job
// configurations (public_cfg and secret_cfg keys) are described in this
// package's README.md, with a complete example job for each handler.
//
// Every handler builds its clients per run from the run's configuration and
// secrets, so runs share nothing but the HTTP client's connection pool, and
// never logs a secret or a token (only a token's first characters and
// length).
package syncoatodidi

import (
	_ "embed"
	"errors"
	"fmt"
	"net/http"

	"github.com/connecthub/connecthub/handler"
)

// Handler names.
const (
	TokenName           = "sync_oa_to_didi.token"
	ExportFormName      = "sync_oa_to_didi.export_form"
	LegalEntitySyncName = "sync_oa_to_didi.legal_entity_sync"
)

var (
	//go:embed schema/token.json
	tokenSchema []byte
	//go:embed schema/export_form.json
	exportFormSchema []byte
	//go:embed schema/legal_entity_sync.json
	legalEntitySyncSchema []byte
)

// Options configures the handlers.
type Options struct {
	// HTTPClient makes the requests to the OA and to Didi; nil means a
	// client with the default transport. Set it for a proxy or custom TLS
	// roots. Timeouts come from each job's configuration.
	HTTPClient *http.Client
}

// handlers carries what the handler functions share.
type handlers struct {
	http *http.Client
	// onPause, when set (by tests only), is called when legal_entity_sync
	// starts to wait between two edits, so a test can cancel it there.
	onPause func()
}

// Specs returns the three handlers' specs.
func Specs(opts Options) []handler.Spec {
	h := &handlers{http: opts.HTTPClient}
	if h.http == nil {
		h.http = &http.Client{}
	}
	return []handler.Spec{
		{
			Name:         TokenName,
			Description:  "Logs in to the Seeyon OA REST API to check the credentials; logs only the token's first characters and length.",
			ConfigSchema: tokenSchema,
			SecretKeys:   []string{SecretRESTUser, SecretRESTPassword},
			Func:         h.token,
			Translations: zhCN("登录致远 OA 的 REST API 以检查凭据；日志只记录令牌的前几个字符和长度。", tokenSchema),
		},
		{
			Name:         ExportFormName,
			Description:  "Exports a Seeyon CAP4 form (definition and data); logs the answer in chunks and returns it with its content type and length.",
			ConfigSchema: exportFormSchema,
			SecretKeys:   []string{SecretRESTUser, SecretRESTPassword},
			Func:         h.exportForm,
			Translations: zhCN("导出致远 CAP4 表单（定义和数据）；分段把应答写入日志，并连同其内容类型和长度一起返回。", exportFormSchema),
		},
		{
			Name:         LegalEntitySyncName,
			Description:  "Sets each Didi member's legal entity from the company an OA CAP4 form records for their employee number.",
			ConfigSchema: legalEntitySyncSchema,
			SecretKeys:   []string{SecretRESTUser, SecretRESTPassword, SecretClientSecret, SecretSignKey, SecretPhone},
			Func:         h.legalEntitySync,
			Translations: zhCN("按 OA CAP4 表单中每个工号记录的所属公司，设置滴滴成员的法人主体。", legalEntitySyncSchema),
		},
	}
}

// Register adds the three handlers to r with default options.
func Register(r *handler.Registry) error {
	return RegisterWithOptions(r, Options{})
}

// RegisterWithOptions adds the three handlers to r. It fails if r is nil or
// already holds a handler of the same name.
func RegisterWithOptions(r *handler.Registry, opts Options) error {
	if r == nil {
		return errors.New("syncoatodidi.Register: nil registry")
	}
	for _, s := range Specs(opts) {
		if err := r.Add(s); err != nil {
			return fmt.Errorf("registering the sync_oa_to_didi handlers: %w", err)
		}
	}
	return nil
}
