package syncoatodidi

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/integrations/didi"
	"github.com/connecthub/connecthub/integrations/seeyon"
)

// Secret keys (secret_cfg) the handlers read.
const (
	SecretRESTUser     = "rest_user"
	SecretRESTPassword = "rest_password"
	SecretClientSecret = "client_secret"
	SecretSignKey      = "sign_key"
	SecretPhone        = "phone"
)

// Defaults of public_cfg keys.
const (
	DefaultSeeyonTimeout       = "60s"
	DefaultDidiTimeout         = "30s"
	DefaultLogChunkBytes       = 4 << 10
	DefaultLogMaxBytes         = 64 << 10
	DefaultEmployeeNumberField = "工号"
	DefaultCompanyField        = "所属公司"
	DefaultEditInterval        = "150ms"
)

// Bounds of public_cfg keys.
const (
	minLogChunkBytes = 256
	maxLogChunkBytes = 64 << 10
	// maxLogMaxBytes matches the order of the run log's own limit (200 KiB
	// by default): logging more would only be cut there.
	maxLogMaxBytes  = 1 << 20
	maxEditInterval = time.Minute
)

// seeyonConfig are the public_cfg keys that reach the OA.
type seeyonConfig struct {
	SeeyonBaseURL   string `json:"seeyon_base_url"`
	SeeyonLoginName string `json:"seeyon_login_name"`
	SeeyonTimeout   string `json:"seeyon_timeout"`
}

// exportConfig are the public_cfg keys of a CAP4 form export.
type exportConfig struct {
	TemplateCode  string         `json:"template_code"`
	RightID       string         `json:"right_id"`
	BeginDateTime string         `json:"begin_date_time"`
	EndDateTime   string         `json:"end_date_time"`
	Page          int            `json:"page"`
	PageSize      int            `json:"page_size"`
	ExtraParams   map[string]any `json:"extra_params"`
}

// tokenConfig is the public_cfg of sync_oa_to_didi.token.
type tokenConfig struct {
	seeyonConfig
}

// exportFormConfig is the public_cfg of sync_oa_to_didi.export_form.
type exportFormConfig struct {
	seeyonConfig
	exportConfig
	LogChunkBytes *int `json:"log_chunk_bytes"`
	LogMaxBytes   *int `json:"log_max_bytes"`
}

// syncConfig is the public_cfg of sync_oa_to_didi.legal_entity_sync.
type syncConfig struct {
	seeyonConfig
	exportConfig
	EmployeeNumberField string `json:"employee_number_field"`
	CompanyField        string `json:"company_field"`
	DidiBaseURL         string `json:"didi_base_url"`
	DidiClientID        string `json:"didi_client_id"`
	DidiCompanyID       string `json:"didi_company_id"`
	DidiGrantType       string `json:"didi_grant_type"`
	DidiTimeout         string `json:"didi_timeout"`
	EditInterval        string `json:"edit_interval"`
	DryRun              bool   `json:"dry_run"`
}

// requireSecrets checks that the task's secret_cfg has every key, non-empty.
func requireSecrets(t *handler.Task, keys ...string) error {
	for _, k := range keys {
		if strings.TrimSpace(t.Secrets[k]) == "" {
			return handler.Permanent(fmt.Errorf("secret_cfg.%s is required", k))
		}
	}
	return nil
}

// parseDuration reads a duration key, def when it is empty.
func parseDuration(key, value, def string, max time.Duration) (time.Duration, error) {
	if strings.TrimSpace(value) == "" {
		value = def
	}
	d, err := time.ParseDuration(strings.TrimSpace(value))
	if err != nil {
		return 0, handler.Permanent(fmt.Errorf("public_cfg.%s %q is not a duration such as \"30s\" or \"1m30s\"", key, value))
	}
	if d < 0 || (max > 0 && d > max) {
		return 0, handler.Permanent(fmt.Errorf("public_cfg.%s %q must be between 0s and %s", key, value, max))
	}
	return d, nil
}

// checkURL checks a base URL key.
func checkURL(key, value string, required bool) error {
	v := strings.TrimSpace(value)
	if v == "" {
		if required {
			return handler.Permanent(fmt.Errorf("public_cfg.%s is required", key))
		}
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return handler.Permanent(fmt.Errorf("public_cfg.%s %q must be an http:// or https:// URL", key, value))
	}
	return nil
}

// seeyonClient builds the OA client of a run from its configuration and
// secrets.
func (h *handlers) seeyonClient(t *handler.Task, cfg seeyonConfig) (*seeyon.Client, error) {
	if err := checkURL("seeyon_base_url", cfg.SeeyonBaseURL, true); err != nil {
		return nil, err
	}
	timeout, err := parseDuration("seeyon_timeout", cfg.SeeyonTimeout, DefaultSeeyonTimeout, 0)
	if err != nil {
		return nil, err
	}
	if err := requireSecrets(t, SecretRESTUser, SecretRESTPassword); err != nil {
		return nil, err
	}
	c, err := seeyon.New(seeyon.Config{
		BaseURL:      cfg.SeeyonBaseURL,
		RESTUser:     t.Secrets[SecretRESTUser],
		RESTPassword: t.Secrets[SecretRESTPassword],
		LoginName:    strings.TrimSpace(cfg.SeeyonLoginName),
		HTTPClient:   h.http,
		Timeout:      timeout,
	})
	if err != nil {
		return nil, handler.Permanent(err)
	}
	return c, nil
}

// didiClient builds the Didi client of a run.
func (h *handlers) didiClient(t *handler.Task, cfg syncConfig) (*didi.Client, error) {
	if err := checkURL("didi_base_url", cfg.DidiBaseURL, false); err != nil {
		return nil, err
	}
	for _, req := range []struct{ key, value string }{
		{"didi_client_id", cfg.DidiClientID},
		{"didi_company_id", cfg.DidiCompanyID},
	} {
		if strings.TrimSpace(req.value) == "" {
			return nil, handler.Permanent(fmt.Errorf("public_cfg.%s is required", req.key))
		}
	}
	timeout, err := parseDuration("didi_timeout", cfg.DidiTimeout, DefaultDidiTimeout, 0)
	if err != nil {
		return nil, err
	}
	if err := requireSecrets(t, SecretClientSecret, SecretSignKey, SecretPhone); err != nil {
		return nil, err
	}
	c, err := didi.New(didi.Config{
		BaseURL:      cfg.DidiBaseURL,
		ClientID:     strings.TrimSpace(cfg.DidiClientID),
		ClientSecret: t.Secrets[SecretClientSecret],
		SignKey:      t.Secrets[SecretSignKey],
		Phone:        strings.TrimSpace(t.Secrets[SecretPhone]),
		CompanyID:    strings.TrimSpace(cfg.DidiCompanyID),
		GrantType:    strings.TrimSpace(cfg.DidiGrantType),
		HTTPClient:   h.http,
		Timeout:      timeout,
	})
	if err != nil {
		return nil, handler.Permanent(err)
	}
	return c, nil
}

// exportRequest checks the export keys and returns the request.
func (c exportConfig) exportRequest() (seeyon.ExportRequest, error) {
	if strings.TrimSpace(c.TemplateCode) == "" {
		return seeyon.ExportRequest{}, handler.Permanent(errors.New("public_cfg.template_code is required"))
	}
	if c.Page < 0 {
		return seeyon.ExportRequest{}, handler.Permanent(fmt.Errorf("public_cfg.page must be at least 1, got %d", c.Page))
	}
	if c.PageSize < 0 {
		return seeyon.ExportRequest{}, handler.Permanent(fmt.Errorf("public_cfg.page_size must be at least 1, got %d", c.PageSize))
	}
	return seeyon.ExportRequest{
		TemplateCode:  strings.TrimSpace(c.TemplateCode),
		RightID:       strings.TrimSpace(c.RightID),
		BeginDateTime: strings.TrimSpace(c.BeginDateTime),
		EndDateTime:   strings.TrimSpace(c.EndDateTime),
		Page:          c.Page,
		PageSize:      c.PageSize,
		Extra:         c.ExtraParams,
	}, nil
}

// loginPermanent marks a login refused for its credentials as permanent: a
// retry with the same secret_cfg cannot succeed.
func loginPermanent(err error) error {
	var httpErr *seeyon.HTTPError
	if errors.Is(err, seeyon.ErrLogin) && errors.As(err, &httpErr) &&
		(httpErr.StatusCode == 401 || httpErr.StatusCode == 403) {
		return handler.Permanent(err)
	}
	return err
}
