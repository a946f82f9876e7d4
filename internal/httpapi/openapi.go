package httpapi

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"

	"github.com/gin-gonic/gin"
)

// operation describes one route for the OpenAPI document.
type operation struct {
	method, path, summary string
	auth                  bool
	body                  string // component schema of the request body, "" for none
	response              string // component schema of the 200/201 answer
	query                 []string
}

// operations is the API surface. A test checks that every registered route
// is listed here, so the document cannot silently fall behind the code.
var operations = []operation{
	{"GET", "/api/health", "Liveness and NATS connectivity (503 when NATS is down)", false, "", "Health", nil},
	{"GET", "/api/status", "Service version, uptime and NATS state", false, "", "Object", nil},
	{"GET", "/api/ready", "Readiness: NATS connected and read models caught up", false, "", "Object", nil},
	{"GET", "/metrics", "Prometheus metrics", false, "", "", nil},
	{"GET", "/.well-known/jwks.json", "Public keys that verify access tokens", false, "", "Object", nil},
	{"GET", "/api/openapi.json", "This document", false, "", "Object", nil},
	{"POST", "/api/auth/register", "Create an account", false, "RegisterRequest", "User", nil},
	{"POST", "/api/auth/login", "Log in: user and a token pair", false, "LoginRequest", "LoginResponse", nil},
	{"POST", "/api/auth/refresh", "Rotate a refresh token for a new pair", false, "RefreshRequest", "Tokens", nil},
	{"POST", "/api/auth/logout", "Revoke a refresh token's session", false, "RefreshRequest", "Message", nil},
	{"GET", "/api/auth/me", "The caller's account", true, "", "User", nil},
	{"POST", "/api/auth/invitations", "Admin: a one-time invitation for an email, granting a role at registration", true, "InviteRequest", "Invitation", nil},
	{"POST", "/api/admin/users/{user_id}/role", "Admin: change an account's role (its earlier access tokens are revoked)", true, "RoleRequest", "User", nil},
	{"DELETE", "/api/admin/users/{user_id}", "Admin: delete an account and revoke its tokens", true, "", "Message", nil},
	{"POST", "/api/orgs", "Create an organisation; the caller becomes its admin", true, "OrgRequest", "Object", nil},
	{"GET", "/api/orgs", "The caller's organisations with its role in each", true, "", "Object", nil},
	{"GET", "/api/orgs/{org_id}/members", "An organisation's members (any member may list them)", true, "", "Object", nil},
	{"POST", "/api/orgs/{org_id}/members", "Org admin: add an address with a role (member, operator, auditor, admin); an address without an account joins when it registers (with invitation under TAGSTREAM_REGISTRATION=invite)", true, "InviteRequest", "Object", nil},
	{"PATCH", "/api/orgs/{org_id}/members/{email}", "Org admin: change a member's role", true, "RoleRequest", "Object", nil},
	{"DELETE", "/api/orgs/{org_id}/members/{email}", "Org admin: remove a member (or a member leaves)", true, "", "Object", nil},
	{"GET", "/api/orgs/{org_id}/settings", "Org admins and auditors: the organisation's settings (retention_days, default callback_url)", true, "", "OrgSettings", nil},
	{"PATCH", "/api/orgs/{org_id}/settings", "Org admin: set retention_days (0 = off, up to 3650) and/or the default callback_url (\"\" removes it); absent fields are kept", true, "OrgSettings", "OrgSettings", nil},
	{"GET", "/api/orgs/{org_id}/events", "Org admins and auditors: the organisation's audit trail (creation, members, roles, settings)", true, "", "Events", []string{"cursor"}},
	{"POST", "/api/batch/start", "Start tagging a batch of documents", true, "StartRequest", "StartResponse", nil},
	{"POST", "/api/single/process", "Tag one PDF now (multipart: pdf_file or pdf_url, and config as JSON); a one-document job, answered with its outcome (202 with job_id if it outlasts the wait)", true, "", "SingleResponse", nil},
	{"POST", "/api/exclusions/parse", "Parse an exclusion list file (one term per line or comma separated, # comments)", true, "ExclusionsRequest", "ExclusionsResponse", nil},
	{"POST", "/api/sheets/parse", "Read an .xlsx (base64 in data) as the start form's columns and rows: first sheet, header row", true, "SheetRequest", "SheetResponse", nil},
	{"GET", "/api/batch/active", "The caller's pending, processing and paused jobs (all=true: every job the caller may read: its own, every job of each organisation where its role reads them all, and for global auditors and admins every job outside organisations; org_id: an organisation's, by the caller's role there)", true, "", "JobList", []string{"all", "org_id"}},
	{"GET", "/api/batch/jobs", "Job history, newest first (sort=-created: oldest first; sort=status); q searches name and id, failed=true keeps jobs with failures (all=true: every job the caller may read: its own, every job of each organisation where its role reads them all, and for global auditors and admins every job outside organisations; org_id: an organisation's, by the caller's role there)", true, "", "JobList", []string{"status", "limit", "cursor", "all", "org_id", "q", "failed", "sort"}},
	{"GET", "/api/batch/jobs/{job_id}/status", "A job's status and counts", true, "", "JobStatus", nil},
	{"GET", "/api/batch/jobs/{job_id}/results", "Per-document results (JSON pages, format=csv or format=xlsx)", true, "", "Results", []string{"cursor", "limit", "format"}},
	{"GET", "/api/batch/jobs/{job_id}/events", "The job's audit trail from the event log (scope=job: the job-level events only)", true, "", "Events", []string{"cursor", "limit", "scope"}},
	{"GET", "/api/batch/jobs/{job_id}/webhooks", "The job's webhook delivery attempts (status code, error, next retry; never the URL), same access as its events", true, "", "WebhookAttempts", nil},
	{"GET", "/api/batch/jobs/{job_id}/eta", "Documents finished per minute over the last 5 minutes and the time left at that rate (null when paused, finished or not known yet)", true, "", "JobETA", nil},
	{"GET", "/api/batch/jobs/{job_id}/stream", "Live job messages as Server-Sent Events", true, "", "", []string{"token"}},
	{"GET", "/api/batch/ws/{job_id}", "Live job messages over a WebSocket (catchup, then every change)", true, "", "", []string{"token", "since", "results"}},
	{"POST", "/api/batch/jobs/{job_id}/pause", "Pause: in-flight documents finish, no new one starts", true, "ReasonRequest", "ChangeResponse", nil},
	{"POST", "/api/batch/jobs/{job_id}/resume", "Resume a paused job", true, "ReasonRequest", "ChangeResponse", nil},
	{"POST", "/api/batch/jobs/{job_id}/cancel", "Cancel: no new document starts", true, "ReasonRequest", "ChangeResponse", nil},
	{"POST", "/api/batch/jobs/{job_id}/retry", "Re-run failed (and optionally cancelled) documents of a finished job", true, "RetryRequest", "RetryResponse", nil},
	{"POST", "/api/batch/jobs/{job_id}/erase", "Owner or admin: crypto-shred an ended job's document data (titles, paths, descriptions, extra columns, tags); counts and timeline remain. 409 under legal hold, while running, or for a job logged before encryption", true, "ReasonRequest", "Object", nil},
	{"POST", "/api/batch/jobs/{job_id}/legal-hold", "Admin: set (on=true) or lift (on=false) a legal hold, which blocks erasure and retention", true, "LegalHoldRequest", "Object", nil},
	{"POST", "/api/batch/validate-paths", "Pre-flight checks of documents' sources", true, "ValidateRequest", "ValidateResponse", nil},
	{"GET", "/api/batch/template", "CSV template (format=json describes the columns)", true, "", "", []string{"format"}},
	{"GET", "/api/batch/column-rules", "How a CSV's separator is detected and its columns auto-mapped to fields (used by the console and the CLI)", true, "", "", nil},
	{"GET", "/api/documents", "Search the caller's documents by words of titles, tags, descriptions and extra columns (word* for a prefix), filter by tag, job, status and job start time; newest first, paged by cursor (format=csv streams the search, at most TAGSTREAM_EXPORT_ROWS rows a request as the X-Tagstream-Export-Rows header says, continued from the X-Tagstream-Next-Cursor trailer; all=true: every job the caller may read: its own, every job of each organisation where its role reads them all, and for global auditors and admins every job outside organisations; org_id: an organisation's, by the caller's role there; the same jobs as on /api/batch/jobs)", true, "", "Documents", []string{"q", "tag", "job_id", "status", "since", "until", "limit", "cursor", "format", "all", "org_id"}},
	{"GET", "/api/history/stats", "History statistics: jobs and documents in total, jobs by status, the newest jobs (the caller's own; all=true: every job the caller may read: its own, every job of each organisation where its role reads them all, and for global auditors and admins every job outside organisations; org_id: an organisation's, by the caller's role there; the same jobs as on /api/batch/jobs)", true, "", "HistoryStats", []string{"all", "org_id"}},
	{"GET", "/api/analytics/summary", "Statistics over every job the caller may read, as all=true (accepted too) on /api/batch/jobs: its own, every job of each organisation where its role reads them all, and for global auditors and admins every job outside organisations; mine=true (or all=false): the caller's own; org_id: an organisation's, by the caller's role there; documents, documents_per_day, success_rate, models and top_failure_reasons count each attempt that ended, on its day, so a retried document counts again (job status counts it once); an erased job's failure reasons keep their code, not their text", true, "", "Analytics", []string{"mine", "all", "org_id"}},
}

func obj(props map[string]string, required ...string) map[string]any {
	p := map[string]any{}
	for name, typ := range props {
		switch {
		case strings.HasPrefix(typ, "#"):
			p[name] = map[string]any{"$ref": "#/components/schemas/" + typ[1:]}
		case strings.HasPrefix(typ, "[]#"):
			p[name] = map[string]any{"type": "array", "items": map[string]any{"$ref": "#/components/schemas/" + typ[3:]}}
		case strings.HasPrefix(typ, "[]"):
			p[name] = map[string]any{"type": "array", "items": map[string]any{"type": typ[2:]}}
		default:
			p[name] = map[string]any{"type": typ}
		}
	}
	s := map[string]any{"type": "object", "properties": p}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

var schemas = map[string]any{
	"Object":  map[string]any{"type": "object"},
	"Error":   obj(map[string]string{"detail": "string", "code": "string", "field": "string"}, "detail", "code"),
	"Health":  obj(map[string]string{"status": "string", "nats": "string"}),
	"Message": obj(map[string]string{"message": "string"}),
	"SingleResponse": obj(map[string]string{"job_id": "string", "title": "string", "status": "string", "tags": "[]string",
		"metadata": "object", "error": "string"}, "job_id", "status"),
	"SheetRequest":       obj(map[string]string{"data": "string"}, "data"),
	"SheetResponse":      obj(map[string]string{"headers": "[]string", "rows": "[]object"}, "headers", "rows"),
	"ExclusionsRequest":  obj(map[string]string{"text": "string"}, "text"),
	"ExclusionsResponse": obj(map[string]string{"words": "[]string"}, "words"),
	"RegisterRequest":    obj(map[string]string{"email": "string", "password": "string", "full_name": "string", "invitation": "string"}, "email", "password"),
	"InviteRequest":      obj(map[string]string{"email": "string", "role": "string"}, "email"),
	"Invitation":         obj(map[string]string{"invitation": "string", "email": "string", "role": "string", "expires_at": "string"}),
	"RoleRequest":        obj(map[string]string{"role": "string"}, "role"),
	"LoginRequest":       obj(map[string]string{"email": "string", "password": "string"}, "email", "password"),
	"RefreshRequest":     obj(map[string]string{"refresh_token": "string"}, "refresh_token"),
	"User":               obj(map[string]string{"id": "string", "email": "string", "full_name": "string", "role": "string", "created_at": "string"}),
	"Tokens":             obj(map[string]string{"access_token": "string", "refresh_token": "string", "token_type": "string", "expires_in": "integer"}),
	"LoginResponse":      obj(map[string]string{"user": "#User", "tokens": "#Tokens"}),
	"Document":           map[string]any{"type": "object", "description": "Columns of one document: title, file_path, file_source_type (url|local|s3), description, and any others", "additionalProperties": true},
	"Config": obj(map[string]string{"api_key": "string", "model_name": "string", "num_pages": "integer", "num_tags": "integer",
		"exclusion_words": "[]string"}),
	"StartRequest":  obj(map[string]string{"documents": "[]#Document", "config": "#Config", "column_mapping": "object", "job_id": "string", "name": "string", "org_id": "string"}, "documents"),
	"OrgRequest":    obj(map[string]string{"name": "string"}, "name"),
	"OrgSettings":   obj(map[string]string{"org_id": "string", "retention_days": "integer", "callback_url": "string"}),
	"StartResponse": obj(map[string]string{"job_id": "string", "total_documents": "integer", "message": "string"}),
	"JobStatus": obj(map[string]string{"job_id": "string", "status": "string", "total_documents": "integer", "processed_count": "integer",
		"failed_count": "integer", "cancelled_count": "integer", "progress": "number", "created_at": "string", "started_at": "string",
		"updated_at": "string", "finished_at": "string", "reason": "string", "attempt": "integer", "model_name": "string",
		"name": "string", "owner_id": "string", "owner_email": "string", "config": "object", "control_seq": "integer",
		"org_id": "string", "erased": "boolean", "erased_at": "string", "erase_reason": "string", "legal_hold": "boolean",
		"legal_hold_reason": "string", "can_control": "boolean", "can_erase": "boolean", "can_hold": "boolean"}),
	"JobList": obj(map[string]string{"jobs": "[]#JobStatus", "next_cursor": "string"}),
	"Result":  map[string]any{"type": "object", "additionalProperties": true, "properties": obj(map[string]string{"row_id": "integer", "title": "string", "file_path": "string", "status": "string", "tags": "[]string", "error": "string", "attempts": "integer", "metadata": "object"})["properties"]},
	"Results": obj(map[string]string{"job_id": "string", "total": "integer", "results": "[]#Result", "next_cursor": "string"}),
	"Event":   obj(map[string]string{"seq": "integer", "type": "string", "time": "string", "actor": "object", "data": "object"}),
	"Events":  obj(map[string]string{"job_id": "string", "events": "[]#Event", "next_cursor": "string"}),
	"WebhookAttempt": obj(map[string]string{"seq": "integer", "time": "string", "event": "string", "event_seq": "integer", "attempt": "integer",
		"delivered": "boolean", "status": "integer", "error": "string", "next_retry": "string", "webhook_id": "string", "given_up": "boolean"}),
	"WebhookAttempts": obj(map[string]string{"job_id": "string", "callback": "boolean", "attempts": "[]#WebhookAttempt"}),
	"JobETA": obj(map[string]string{"job_id": "string", "status": "string", "remaining": "integer", "rate_per_minute": "number",
		"eta_seconds": "integer", "window_seconds": "integer"}),
	"ReasonRequest":    obj(map[string]string{"reason": "string"}),
	"ChangeResponse":   obj(map[string]string{"message": "string", "job_id": "string", "status": "string"}),
	"LegalHoldRequest": obj(map[string]string{"on": "boolean", "reason": "string"}, "on", "reason"),
	"RetryRequest":     obj(map[string]string{"api_key": "string", "model_name": "string", "reason": "string", "include_cancelled": "boolean"}),
	"RetryResponse":    obj(map[string]string{"message": "string", "job_id": "string", "status": "string", "attempt": "integer", "documents": "integer"}),
	"ValidateRequest":  obj(map[string]string{"documents": "[]#Document", "column_mapping": "object"}, "documents"),
	"ValidateResponse": obj(map[string]string{"total": "integer", "valid": "integer", "invalid": "integer", "results": "[]object"}),
	"SearchDocument": map[string]any{"type": "object", "additionalProperties": true, "properties": obj(map[string]string{"job_id": "string", "row_id": "integer",
		"owner_id": "string", "org_id": "string", "title": "string", "file_path": "string", "status": "string", "tags": "[]string", "description": "string",
		"extra": "object", "error": "string", "error_code": "string", "model": "string", "total_tokens": "integer", "cost_usd": "number",
		"duration_ms": "integer", "created_at": "string", "updated_at": "string", "finished_at": "string"})["properties"]},
	"Documents":    obj(map[string]string{"documents": "[]#SearchDocument", "next_cursor": "string"}, "documents"),
	"HistoryStats": obj(map[string]string{"total_jobs": "integer", "total_documents": "integer", "jobs_by_status": "object", "recent_jobs": "[]#JobStatus"}),
	"Analytics": obj(map[string]string{"jobs_by_status": "object", "documents": "integer", "documents_per_day": "[]object", "success_rate": "number",
		"models": "[]object", "top_failure_reasons": "[]object", "top_tags": "[]object", "usage_per_model_day": "[]object"}),
}

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// openAPIDocument builds the OpenAPI 3 document from the operations table.
func openAPIDocument(version string) map[string]any {
	paths := map[string]any{}
	errRef := map[string]any{"description": "error", "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}}
	for _, op := range operations {
		item, _ := paths[op.path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[op.path] = item
		}
		ok := map[string]any{"description": "success"}
		if op.response != "" {
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/" + op.response}}}
		}
		status := "200"
		if op.path == "/api/auth/register" {
			status = "201"
		}
		o := map[string]any{"summary": op.summary, "responses": map[string]any{status: ok, "400": errRef, "401": errRef, "404": errRef, "409": errRef, "413": errRef, "429": errRef, "503": errRef}}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(op.path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range op.query {
			params = append(params, map[string]any{"name": q, "in": "query", "schema": map[string]any{"type": "string"}})
		}
		if params != nil {
			o["parameters"] = params
		}
		if op.body != "" {
			o["requestBody"] = map[string]any{"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/" + op.body}}}}
		}
		if op.auth {
			o["security"] = []any{map[string]any{"bearer": []any{}}}
		}
		item[strings.ToLower(op.method)] = o
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info":    map[string]any{"title": "Tagstream API", "version": version, "description": "Tag batches of PDF documents with an LLM; every job transition is an event in NATS JetStream."},
		"paths":   paths,
		"components": map[string]any{"schemas": schemas,
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
	}
}

func (s *Server) openAPI(c *gin.Context) {
	b, _ := json.Marshal(openAPIDocument(s.d.Version))
	c.Data(http.StatusOK, "application/json", b)
}
