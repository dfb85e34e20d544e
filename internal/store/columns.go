package store

// The column lists of the tables whose rows both drivers read and write
// alike, in the order their scanners and argument lists follow. The runs
// table has RunColumns; lists that differ by dialect (a subquery, say)
// stay with their driver.
const (
	// AuditColumns are the columns of the audit log.
	AuditColumns = `id, at, actor, actor_kind, break_glass, action, target, client, changes, detail`
	// BatchColumns are the columns of batches.
	BatchColumns = `id, created_at, actor, action, source_files, source_hash, rollback_of, created, updated, deleted`
	// CalendarColumns are the columns of calendars.
	CalendarColumns = `name, description, data, builtin, created_at, updated_at`
	// ChannelColumns are the columns of alert channels.
	ChannelColumns = `id, type, language, url, smtp, secret, created_at, updated_at`
	// JobColumns are the columns of jobs.
	JobColumns = `id, description, enabled, cron_expr, timezone, handler, public_cfg,
	secret_cfg, secret_keys, has_secret, timeout_ns, max_attempts, retry_backoff_ns,
	concurrency, misfire, misfire_window_ns, queue, priority, last_run_at, next_run_at,
	created_at, updated_at, calendar, calendar_mode, on_success, on_failure,
	keep_runs, keep_for_ns`
	// NodeColumns are the columns of nodes.
	NodeColumns = `name, kind, version, endpoint, queues, handlers, max_concurrency, metrics_port,
	labels, setting_state, present_state, registered_at, last_heartbeat, running, owner_token`
	// NotificationColumns are the columns of notifications.
	NotificationColumns = `id, rule_id, channel, event, job_id, run_id, alert, status, attempts, history,
	next_attempt_at, created_at, sent_at`
	// RevisionColumns are the columns of job revisions.
	RevisionColumns = `job_id, revision, action, actor, actor_kind, source, at, definition, secret_keys, secret_fingerprint`
	// SessionColumns are the columns of sessions.
	SessionColumns = `id, user_name, hash, created_at, last_seen_at, expires_at, revoked_at, client, user_agent, break_glass`
	// TokenColumns are the columns of API tokens.
	TokenColumns = `id, name, scope, hash, created_at, last_used_at, revoked_at, node_prefix, queues, owner`
	// UserColumns are the columns of users.
	UserColumns = `username, display_name, role, disabled, password_hash, created_at, updated_at, last_login_at`
)
