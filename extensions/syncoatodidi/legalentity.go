package syncoatodidi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/integrations/didi"
	"github.com/connecthub/connecthub/integrations/seeyon"
)

// MaxReportedErrors is how many per-member errors the result lists (and the
// run log shows at WARN level); the counts cover them all.
const MaxReportedErrors = 50

// progressEvery is how often (in members) a progress line is logged.
const progressEvery = 100

// SyncError is one member the sync could not bring in line.
type SyncError struct {
	EmployeeNumber string `json:"employee_number"`
	Company        string `json:"company,omitempty"`
	Error          string `json:"error"`
}

// SyncReport is the result of sync_oa_to_didi.legal_entity_sync.
type SyncReport struct {
	// Total is the number of members (distinct employee numbers) the form
	// lists; Success + Skipped + Failed = Total.
	Total int `json:"total"`
	// Success counts members whose legal entity was changed (or, in a dry
	// run, would have been).
	Success int `json:"success"`
	// Skipped counts members whose legal entity was already right.
	Skipped int `json:"skipped"`
	// Failed counts members that could not be brought in line.
	Failed int `json:"failed"`
	// Errors are the first MaxReportedErrors failures.
	Errors []SyncError `json:"errors"`
	// ErrorsTruncated reports that there were more failures than listed.
	ErrorsTruncated bool `json:"errors_truncated"`
	// IgnoredRows counts form records without an employee number.
	IgnoredRows int `json:"ignored_rows"`
	// LegalEntityLookups counts LegalEntity/get calls: one per distinct
	// company.
	LegalEntityLookups int `json:"legal_entity_lookups"`
	// DryRun reports that no member was changed.
	DryRun bool `json:"dry_run"`
}

// message is the run's one-line summary.
func (r *SyncReport) message() string {
	verb := "updated"
	prefix := ""
	if r.DryRun {
		verb, prefix = "would update", "dry run: "
	}
	return fmt.Sprintf("%smembers: %d, %s: %d, skipped: %d, failed: %d", prefix, r.Total, verb, r.Success, r.Skipped, r.Failed)
}

// member is one employee the form lists.
type member struct {
	row            int // 1-based record number in the export, for messages
	employeeNumber string
	company        string
}

// syncRun is the state of one run.
type syncRun struct {
	log      *slog.Logger
	didi     *didi.Client
	interval time.Duration
	dryRun   bool
	report   SyncReport
	entities map[string]entityLookup // by company name, for this run only
	edits    int                     // Member/edit calls made, for pacing
	warned   int                     // failures logged at WARN
	onPause  func()                  // see handlers.onPause
}

// entityLookup is the cached outcome of looking a company up.
type entityLookup struct {
	id  string
	err error
}

// legalEntitySync is sync_oa_to_didi.legal_entity_sync.
//
// It exports the configured CAP4 form, finds the fields labelled
// employee_number_field (工号) and company_field (所属公司) in the form's
// definition, and for every employee number (the last record wins when one
// appears twice) resolves the company to a Didi legal entity by exact name
// (one LegalEntity/get per distinct company per run, cached with its
// outcome), fetches the member by employee number, and edits the member's
// legal entity when it differs, pausing edit_interval between edits so as
// not to trip Didi's rate limits.
//
// Per-member failures (unknown member, unknown or ambiguous company, an
// errno) are counted and reported, not fatal. The run fails when the OA
// export fails, when Didi authorization fails (nothing else could work),
// when the context ends, when the form lists no members, or when every
// member failed.
func (h *handlers) legalEntitySync(ctx context.Context, t *handler.Task) (*handler.Result, error) {
	if t == nil {
		return nil, handler.Permanent(errors.New("handler called without a task"))
	}
	var cfg syncConfig
	if err := t.Decode(&cfg); err != nil {
		return nil, err
	}
	req, err := cfg.exportRequest()
	if err != nil {
		return nil, err
	}
	interval, err := parseDuration("edit_interval", cfg.EditInterval, DefaultEditInterval, maxEditInterval)
	if err != nil {
		return nil, err
	}
	empLabel := strings.TrimSpace(cfg.EmployeeNumberField)
	if empLabel == "" {
		empLabel = DefaultEmployeeNumberField
	}
	companyLabel := strings.TrimSpace(cfg.CompanyField)
	if companyLabel == "" {
		companyLabel = DefaultCompanyField
	}
	oa, err := h.seeyonClient(t, cfg.seeyonConfig)
	if err != nil {
		return nil, err
	}
	dd, err := h.didiClient(t, cfg)
	if err != nil {
		return nil, err
	}
	log := logger(t)

	log.Info("exporting the CAP4 form", "template_code", req.TemplateCode)
	resp, err := oa.ExportForm(ctx, req)
	if err != nil {
		return nil, loginPermanent(err)
	}
	exp, err := seeyon.ParseFormExport(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading the export of form %s: %w", req.TemplateCode, err)
	}
	empField, ok := exp.Field(empLabel)
	if !ok {
		return nil, handler.Permanent(missingField(req.TemplateCode, "employee_number_field", empLabel, exp))
	}
	companyField, ok := exp.Field(companyLabel)
	if !ok {
		return nil, handler.Permanent(missingField(req.TemplateCode, "company_field", companyLabel, exp))
	}

	run := &syncRun{
		log:      log,
		didi:     dd,
		interval: interval,
		dryRun:   cfg.DryRun,
		entities: make(map[string]entityLookup),
		report:   SyncReport{Errors: []SyncError{}, DryRun: cfg.DryRun},
		onPause:  h.onPause,
	}
	members := run.collect(exp, empField, companyField, empLabel)
	run.report.Total = len(members)
	log.Info("form read", "records", len(exp.Records), "members", len(members),
		"employee_number_field", empField.Name, "company_field", companyField.Name)
	if len(members) == 0 {
		return nil, fmt.Errorf("form %s lists no members (no record has a %s)", req.TemplateCode, empLabel)
	}

	for i, m := range members {
		if err := run.sync(ctx, m); err != nil {
			return nil, fmt.Errorf("stopped after %d of %d members (%s): %w", i, len(members), run.report.message(), err)
		}
		if (i+1)%progressEvery == 0 && i+1 < len(members) {
			log.Info("progress", "done", i+1, "of", len(members), "summary", run.report.message())
		}
	}
	if run.warned < run.report.Failed {
		log.Warn(fmt.Sprintf("%d more failures are counted but not logged", run.report.Failed-run.warned))
	}
	log.Info("sync finished", "summary", run.report.message())
	if run.report.Success+run.report.Skipped == 0 {
		return nil, fmt.Errorf("no member could be synced (%s); first error: %s", run.report.message(), run.report.Errors[0].Error)
	}
	return &handler.Result{Message: run.report.message(), Data: run.report}, nil
}

// missingField explains a label the form definition lacks.
func missingField(templateCode, key, label string, exp *seeyon.FormExport) error {
	return fmt.Errorf("form %s has no field labelled %q (public_cfg.%s); its fields are: %s",
		templateCode, label, key, strings.Join(exp.Labels(), ", "))
}

// collect returns the members the form lists, in the order of their first
// record; a later record of the same employee number replaces the earlier
// one's company.
func (r *syncRun) collect(exp *seeyon.FormExport, empField, companyField seeyon.Field, empLabel string) []member {
	var out []member
	index := make(map[string]int)
	for i, rec := range exp.Records {
		emp, _ := rec.Get(empField)
		company, _ := rec.Get(companyField)
		m := member{row: i + 1, employeeNumber: strings.TrimSpace(emp.String()), company: strings.TrimSpace(company.String())}
		if m.employeeNumber == "" {
			r.report.IgnoredRows++
			r.log.Warn(fmt.Sprintf("record %d has no %s; ignored", m.row, empLabel))
			continue
		}
		if j, dup := index[m.employeeNumber]; dup {
			r.log.Warn(fmt.Sprintf("%s %s appears in records %d and %d; using record %d",
				empLabel, m.employeeNumber, out[j].row, m.row, m.row))
			out[j].company, out[j].row = m.company, m.row
			continue
		}
		index[m.employeeNumber] = len(out)
		out = append(out, m)
	}
	return out
}

// sync brings one member in line. It returns an error only for what must
// stop the run (authorization, the context ending); anything else is
// counted as the member's failure.
func (r *syncRun) sync(ctx context.Context, m member) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if m.company == "" {
		r.fail(m, errors.New("the form has no company for this member"))
		return nil
	}
	entityID, err := r.entity(ctx, m.company)
	if err != nil {
		if fatal(ctx, err) {
			return err
		}
		r.fail(m, err)
		return nil
	}
	mem, err := r.didi.MemberDetail(ctx, didi.MemberQuery{EmployeeNumber: m.employeeNumber})
	if err != nil {
		if fatal(ctx, err) {
			return err
		}
		r.fail(m, err)
		return nil
	}
	if mem.LegalEntityID == entityID {
		r.report.Skipped++
		return nil
	}
	if r.dryRun {
		r.report.Success++
		r.log.Info("would update", "employee_number", m.employeeNumber, "company", m.company,
			"from_legal_entity", mem.LegalEntityID, "to_legal_entity", entityID)
		return nil
	}
	if r.edits > 0 {
		if r.onPause != nil {
			r.onPause()
		}
		if err := pause(ctx, r.interval); err != nil {
			return err
		}
	}
	r.edits++
	err = r.didi.MemberEdit(ctx, mem.ID, map[string]any{"legal_entity_id": entityID})
	if err != nil {
		if fatal(ctx, err) {
			return err
		}
		r.fail(m, err)
		return nil
	}
	r.report.Success++
	r.log.Info("updated", "employee_number", m.employeeNumber, "company", m.company,
		"from_legal_entity", mem.LegalEntityID, "to_legal_entity", entityID)
	return nil
}

// entity resolves a company name to a legal entity id, once per run. The
// outcome (also "not found") is cached; a fatal error is not, as the run
// stops at it.
func (r *syncRun) entity(ctx context.Context, company string) (string, error) {
	if e, ok := r.entities[company]; ok {
		return e.id, e.err
	}
	r.report.LegalEntityLookups++
	list, err := r.didi.LegalEntityGet(ctx, map[string]string{"name": company, "offset": "0", "length": "100"})
	if err != nil {
		if fatal(ctx, err) {
			return "", err
		}
		r.entities[company] = entityLookup{err: err}
		return "", err
	}
	var ids []string
	for _, e := range list.Records {
		if strings.TrimSpace(e.Name) == company {
			ids = append(ids, e.ID)
		}
	}
	var lookup entityLookup
	switch len(ids) {
	case 0:
		lookup.err = fmt.Errorf("no Didi legal entity is named %q", company)
	case 1:
		lookup.id = ids[0]
	default:
		lookup.err = fmt.Errorf("%d Didi legal entities are named %q (%s); fix the names in Didi", len(ids), company, strings.Join(ids, ", "))
	}
	r.entities[company] = lookup
	return lookup.id, lookup.err
}

// fail counts a member's failure, keeps the first MaxReportedErrors and
// logs them as warnings.
func (r *syncRun) fail(m member, err error) {
	r.report.Failed++
	if len(r.report.Errors) < MaxReportedErrors {
		r.report.Errors = append(r.report.Errors, SyncError{EmployeeNumber: m.employeeNumber, Company: m.company, Error: err.Error()})
		r.warned++
		r.log.Warn(fmt.Sprintf("%s: %v", m.employeeNumber, err), "record", m.row, "company", m.company)
	} else {
		r.report.ErrorsTruncated = true
	}
}

// fatal reports whether err must stop the run: the run's context ended, or
// Didi refused the credentials, which no later member can get past.
func fatal(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return true
	}
	var authErr *didi.AuthError
	return errors.As(err, &authErr)
}

// pause waits for d, or until ctx ends.
func pause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
