package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/tagstream/tagstream/internal/auth"
	"github.com/tagstream/tagstream/internal/llm"
	"github.com/tagstream/tagstream/internal/webhook"
)

// config is every server setting; each flag has an environment variable
// whose name is fixed by the design contract.
type config struct {
	Addr          string
	DataDir       string
	NatsURL       string
	NatsListen    string
	NatsUser      string
	NatsPassword  string
	NatsCreds     string
	NatsTLSCert   string
	NatsTLSKey    string
	NatsTLSCA     string
	Workers       int
	LLMBaseURL    string
	LLMAPIKey     string
	LocalRoot     string
	AllowPrivate  bool
	AdminEmails   string
	AuditorEmails string
	Registration  string
	MaxDocuments  int
	ExportRows    int
	DocTimeout    time.Duration
	AckWait       time.Duration
	ShutdownGrace time.Duration
	LogLevel      string
	SecretsKey    string
	MaxFetchBytes int64
	MemoryLimit   string
	ExtractMemory string
	UploadsMax    string
	MetricsAddr   string
	StartRate     int
	ModelPrices   string
	WebhookSecret string
	// webhookRetry is the first retry delay of a failed webhook (tests
	// only: no flag; 0 is the deliverer's default of 30 s).
	webhookRetry time.Duration
	// retiredGrace, if set, replaces how long a retired read-model
	// generation is kept after its switch on PostgreSQL
	// (projections.DefaultRetiredGrace; tests that restart at once).
	retiredGrace time.Duration

	OIDCIssuer       string
	OIDCClientID     string
	OIDCClientSecret string
	OIDCRedirectURL  string
	OIDCRoleClaim    string
	OIDCRoles        string
	OIDCDefaultRole  string
	OIDCOrgClaim     string
	OIDCOrgs         string
	OIDCSessionMax   time.Duration
	ReadDB           string
	// RetentionInterval is how often serve looks for organisation jobs
	// past their retention period.
	RetentionInterval time.Duration
	ReadLeaseTTL      time.Duration
}

type setting struct {
	flag, env, help string
	target          any
	def             string
}

func (c *config) settings() []setting {
	return []setting{
		{"addr", "TAGSTREAM_ADDR", "HTTP listen address", &c.Addr, ":8000"},
		{"data-dir", "TAGSTREAM_DATA_DIR", "embedded JetStream store and signing keys", &c.DataDir, "./data"},
		{"read-db", "TAGSTREAM_READ_DB", "read models' database: empty = SQLite file read.db in the data dir, postgres://... = PostgreSQL; prefer the environment variable (the URL holds a password)", &c.ReadDB, ""},
		{"read-lease-ttl", "TAGSTREAM_READ_LEASE_TTL", "PostgreSQL read database shared by several serve processes: one applies the log, holding a lease it renews; another takes over this long after it dies", &c.ReadLeaseTTL, "10s"},
		{"nats-url", "TAGSTREAM_NATS_URL", "external NATS servers, comma separated (empty: embedded)", &c.NatsURL, ""},
		{"nats-listen", "TAGSTREAM_NATS_LISTEN", "also open the embedded NATS server on host:port for remote workers (needs NATS credentials)", &c.NatsListen, ""},
		{"nats-user", "TAGSTREAM_NATS_USER", "NATS user name (with TAGSTREAM_NATS_PASSWORD), required by and presented to the server", &c.NatsUser, ""},
		{"nats-password", "TAGSTREAM_NATS_PASSWORD", "NATS password; prefer the environment variable", &c.NatsPassword, ""},
		{"nats-creds", "TAGSTREAM_NATS_CREDS", "NKEY seed file (or .creds file for an external NATS) instead of user and password", &c.NatsCreds, ""},
		{"nats-tls-cert", "TAGSTREAM_NATS_TLS_CERT", "TLS certificate: the embedded server's, or the client's for mutual TLS", &c.NatsTLSCert, ""},
		{"nats-tls-key", "TAGSTREAM_NATS_TLS_KEY", "private key of TAGSTREAM_NATS_TLS_CERT", &c.NatsTLSKey, ""},
		{"nats-tls-ca", "TAGSTREAM_NATS_TLS_CA", "CA that signed the server's certificate (and, on the server, the clients')", &c.NatsTLSCA, ""},
		{"workers", "TAGSTREAM_WORKERS", "concurrent documents per process", &c.Workers, "8"},
		{"llm-base-url", "TAGSTREAM_LLM_BASE_URL", "OpenAI-compatible endpoint", &c.LLMBaseURL, "https://openrouter.ai/api/v1"},
		{"llm-api-key", "TAGSTREAM_LLM_API_KEY", "server-side key, used when a job brings none", &c.LLMAPIKey, ""},
		{"local-root", "TAGSTREAM_LOCAL_ROOT", "directory that local paths must lie under (empty: local sources refused)", &c.LocalRoot, ""},
		{"fetch-allow-private", "TAGSTREAM_FETCH_ALLOW_PRIVATE", "allow URLs that resolve to loopback/private/link-local addresses", &c.AllowPrivate, "false"},
		{"admin-emails", "TAGSTREAM_ADMIN_EMAILS", "default --email of `tagstream admin bootstrap` (first admin); grants nothing at registration", &c.AdminEmails, ""},
		{"auditor-emails", "TAGSTREAM_AUDITOR_EMAILS", "deprecated, grants nothing: use `tagstream admin bootstrap --role auditor` or an invitation", &c.AuditorEmails, ""},
		{"registration", "TAGSTREAM_REGISTRATION", "who may register: open, invite (an admin's invitation) or closed", &c.Registration, "open"},
		{"max-documents", "TAGSTREAM_MAX_DOCUMENTS", "documents per job", &c.MaxDocuments, "10000"},
		{"export-rows", "TAGSTREAM_EXPORT_ROWS", "rows one CSV export of a search streams at most (a longer one continues from its cursor; the CLI follows it)", &c.ExportRows, "100000"},
		{"retention-interval", "TAGSTREAM_RETENTION_INTERVAL", "how often serve erases organisation jobs past their retention_days (at least 1m)", &c.RetentionInterval, "1h"},
		{"doc-timeout", "TAGSTREAM_DOC_TIMEOUT", "deadline for one document", &c.DocTimeout, "5m"},
		{"task-ack-wait", "TAGSTREAM_TASK_ACK_WAIT", "how long a silent worker keeps a task before it is redelivered", &c.AckWait, "60s"},
		{"shutdown-grace", "TAGSTREAM_SHUTDOWN_GRACE", "how long in-flight documents may finish on shutdown before they are released", &c.ShutdownGrace, "30s"},
		{"memory-limit", "TAGSTREAM_MEMORY_LIMIT", "soft memory limit for the Go runtime (e.g. 400MiB; 0 or off: none; GOMEMLIMIT wins)", &c.MemoryLimit, "400MiB"},
		{"uploads-max-bytes", "TAGSTREAM_UPLOADS_MAX_BYTES", "room for documents uploaded to single/process, kept a day (e.g. 2GiB; 0 or off: as much as the disk has)", &c.UploadsMax, "2GiB"},
		{"extract-memory", "TAGSTREAM_EXTRACT_MEMORY", "memory budget shared by the documents being extracted at once, by estimated size (e.g. 256MiB; 0 or off: count only)", &c.ExtractMemory, "256MiB"},
		{"metrics-addr", "TAGSTREAM_METRICS_ADDR", "worker only: serve /metrics and /api/health on this address (empty: none)", &c.MetricsAddr, ""},
		{"log-level", "TAGSTREAM_LOG_LEVEL", "debug, info, warn or error", &c.LogLevel, "info"},
		{"secrets-key", "TAGSTREAM_SECRETS_KEY", "base64 32-byte key for job API keys at rest (default: DATA_DIR/secrets.key)", &c.SecretsKey, ""},
		{"max-fetch-bytes", "TAGSTREAM_MAX_FETCH_BYTES", "largest document fetched", &c.MaxFetchBytes, "52428800"},
		{"model-prices", "TAGSTREAM_MODEL_PRICES", "model prices in dollars per million tokens: model=in/out,... or JSON {\"model\":{\"input\":x,\"output\":y}} or a JSON file", &c.ModelPrices, ""},
		{"webhook-secret", "TAGSTREAM_WEBHOOK_SECRET", "whsec_<base64> key that signs job webhooks (config.callback_url); empty: callbacks refused; prefer the environment variable", &c.WebhookSecret, ""},
		{"oidc-issuer", "TAGSTREAM_OIDC_ISSUER", "OpenID Connect provider (https URL, as in its tokens' iss): enables single sign-on and accepts its tokens (empty: off)", &c.OIDCIssuer, ""},
		{"oidc-client-id", "TAGSTREAM_OIDC_CLIENT_ID", "client id registered at the provider; the audience its tokens must name", &c.OIDCClientID, ""},
		{"oidc-client-secret", "TAGSTREAM_OIDC_CLIENT_SECRET", "client secret for the console's sign-in (code exchange); prefer the environment variable", &c.OIDCClientSecret, ""},
		{"oidc-redirect-url", "TAGSTREAM_OIDC_REDIRECT_URL", "callback registered at the provider (default: this server's /auth/sso/callback as the browser reaches it)", &c.OIDCRedirectURL, ""},
		{"oidc-role-claim", "TAGSTREAM_OIDC_ROLE_CLAIM", "claim holding the user's groups or roles; dotted for nested claims, e.g. realm_access.roles", &c.OIDCRoleClaim, "groups"},
		{"oidc-roles", "TAGSTREAM_OIDC_ROLES", "claim values that grant a role: value=role,... (roles: user, auditor, admin)", &c.OIDCRoles, ""},
		{"oidc-default-role", "TAGSTREAM_OIDC_DEFAULT_ROLE", "role of a provider user whose claim maps to nothing: user, auditor, admin, or none to refuse them", &c.OIDCDefaultRole, "user"},
		{"oidc-org-claim", "TAGSTREAM_OIDC_ORG_CLAIM", "claim naming the user's organisations (org ids or names; dotted for nested claims): sign-in adds and removes their memberships, with the role the role mapping gives (admin, auditor, else member); empty: off", &c.OIDCOrgClaim, ""},
		{"oidc-orgs", "TAGSTREAM_OIDC_ORGS", "claim values of TAGSTREAM_OIDC_ORG_CLAIM that name an organisation: value=org_id (or name),...; other values are taken as an org id or a unique name", &c.OIDCOrgs, ""},
		{"oidc-session-max", "TAGSTREAM_OIDC_SESSION_MAX", "a console session opened through the provider ends this long after sign-in, refreshed or not", &c.OIDCSessionMax, "12h"},
		{"start-rate", "TAGSTREAM_START_RATE", "job starts (and, separately, path validations) per minute per user, bursts of up to 10; 0: unlimited", &c.StartRate, "60"},
	}
}

// secretSettings hold credentials: their flags never show a default, so
// a value given through the environment cannot leak through --help.
var secretSettings = map[string]bool{
	"llm-api-key": true, "secrets-key": true, "nats-password": true, "oidc-client-secret": true,
	"webhook-secret": true, "read-db": true,
}

// bind registers every setting as a flag whose default comes from its
// environment variable, falling back to the built-in default.
func (c *config) bind(fs *pflag.FlagSet) error {
	return c.bindOnly(fs)
}

// bindOnly is bind restricted to the named flags (all when none are
// named); the other settings stay zero, unused by that command.
func (c *config) bindOnly(fs *pflag.FlagSet, only ...string) error {
	want := map[string]bool{}
	for _, name := range only {
		want[name] = true
	}
	for _, s := range c.settings() {
		def := s.def
		if v, ok := os.LookupEnv(s.env); ok {
			def = v
		}
		if len(want) > 0 && !want[s.flag] {
			continue // not a setting of this command: left at its zero value
		}
		help := fmt.Sprintf("%s (env %s)", s.help, s.env)
		switch t := s.target.(type) {
		case *string:
			if secretSettings[s.flag] {
				fs.StringVar(t, s.flag, "", help)
				*t = def
				continue
			}
			fs.StringVar(t, s.flag, def, help)
		case *int:
			n, err := strconv.Atoi(def)
			if err != nil {
				return fmt.Errorf("%s=%q: not a number", s.env, def)
			}
			fs.IntVar(t, s.flag, n, help)
		case *int64:
			n, err := strconv.ParseInt(def, 10, 64)
			if err != nil {
				return fmt.Errorf("%s=%q: not a number", s.env, def)
			}
			fs.Int64Var(t, s.flag, n, help)
		case *bool:
			b, err := strconv.ParseBool(def)
			if err != nil {
				return fmt.Errorf("%s=%q: not true or false", s.env, def)
			}
			fs.BoolVar(t, s.flag, b, help)
		case *time.Duration:
			d, err := time.ParseDuration(def)
			if err != nil {
				return fmt.Errorf("%s=%q: not a duration", s.env, def)
			}
			fs.DurationVar(t, s.flag, d, help)
		}
	}
	return nil
}

func (c *config) validate() error {
	if c.Workers < 1 || c.Workers > 1024 {
		return fmt.Errorf("TAGSTREAM_WORKERS must be 1..1024, got %d", c.Workers)
	}
	if c.StartRate < 0 {
		return fmt.Errorf("TAGSTREAM_START_RATE must be 0 (unlimited) or positive, got %d", c.StartRate)
	}
	if c.NatsListen != "" && c.NatsURL == "" && c.NatsPassword == "" && c.NatsCreds == "" {
		return fmt.Errorf("TAGSTREAM_NATS_LISTEN=%s would open NATS (every event, every account) to anyone who can reach the port: "+
			"set TAGSTREAM_NATS_USER and TAGSTREAM_NATS_PASSWORD, or TAGSTREAM_NATS_CREDS with an NKEY seed file, "+
			"and the same variables on every worker (TAGSTREAM_NATS_TLS_CERT/_KEY/_CA add TLS)", c.NatsListen)
	}
	if !auth.ValidRegistration(c.Registration) {
		return fmt.Errorf("TAGSTREAM_REGISTRATION must be open, invite or closed, got %q", c.Registration)
	}
	if _, err := llm.ParsePrices(c.ModelPrices); err != nil {
		return err
	}
	if c.MaxDocuments < 1 {
		return fmt.Errorf("TAGSTREAM_MAX_DOCUMENTS must be positive, got %d", c.MaxDocuments)
	}
	if c.ExportRows < 1 {
		return fmt.Errorf("TAGSTREAM_EXPORT_ROWS must be positive, got %d", c.ExportRows)
	}
	if _, err := parseBytes(c.ExtractMemory); err != nil {
		return fmt.Errorf("TAGSTREAM_EXTRACT_MEMORY %q: %w", c.ExtractMemory, err)
	}
	if n, err := parseBytes(c.UploadsMax); err != nil {
		return fmt.Errorf("TAGSTREAM_UPLOADS_MAX_BYTES %q: %w", c.UploadsMax, err)
	} else if n > 0 && n < c.MaxFetchBytes {
		return fmt.Errorf("TAGSTREAM_UPLOADS_MAX_BYTES %q is smaller than one document may be (TAGSTREAM_MAX_FETCH_BYTES)", c.UploadsMax)
	}
	if err := c.validateReadDB(); err != nil {
		return err
	}
	if c.ReadLeaseTTL != 0 && c.ReadLeaseTTL < time.Second {
		return fmt.Errorf("TAGSTREAM_READ_LEASE_TTL must be at least 1s, got %s", c.ReadLeaseTTL)
	}
	if c.WebhookSecret != "" {
		if _, err := webhook.ParseSecret(c.WebhookSecret); err != nil {
			return fmt.Errorf("TAGSTREAM_WEBHOOK_SECRET: %w", err) // the error never quotes the value
		}
	}
	if err := c.validateOIDC(); err != nil {
		return err
	}
	if c.RetentionInterval != 0 && c.RetentionInterval < time.Minute {
		return fmt.Errorf("TAGSTREAM_RETENTION_INTERVAL must be at least 1m, got %s", c.RetentionInterval)
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.ToLower(strings.TrimSpace(p)); p != "" {
			out = append(out, p)
		}
	}
	return out
}
