package httpapi

import (
	"encoding/json"
	"net/url"

	"github.com/tagstream/tagstream/events"
)

// newAuditEvent is one entry of an audit trail as readers see it: the
// event as stored, except a job's callback URL (below).
func newAuditEvent(e events.Envelope) auditEvent {
	data := e.Data
	if e.Type == events.TypeJobStarted || e.Type == events.TypeJobRetried {
		data = redactCallback(data)
	}
	if e.Type == events.TypeJobStarted || e.Type == events.TypeDocumentsSubmitted {
		data = dropFields(data, "request_digest", "input_id")
	}
	return auditEvent{Seq: e.Seq, Type: e.Type, Time: e.Time.Format("2006-01-02T15:04:05.000000Z07:00"), Actor: e.Actor, Data: data}
}

// redactCallback shows a job config's callback_url as its scheme and host
// only. Its path or query often is the receiver's credential (a token
// parameter, a chat webhook's secret path), and the job's events are read
// by auditors as well as the owner; the job page and the webhook log
// already show no more than "set". Data it cannot read is returned as is
// (not an event this server wrote).
func redactCallback(data json.RawMessage) json.RawMessage {
	var ev map[string]json.RawMessage
	if json.Unmarshal(data, &ev) != nil {
		return data
	}
	var cfg map[string]json.RawMessage
	if json.Unmarshal(ev["config"], &cfg) != nil {
		return data
	}
	var raw string
	if json.Unmarshal(cfg["callback_url"], &raw) != nil || raw == "" {
		return data
	}
	shown := "(unreadable)"
	if u, err := url.Parse(raw); err == nil {
		shown = (&url.URL{Scheme: u.Scheme, Host: u.Host}).String()
		if shown+"/" != raw && shown != raw {
			shown += "/…"
		}
	}
	cfg["callback_url"], _ = json.Marshal(shown)
	ev["config"], _ = json.Marshal(cfg)
	out, err := json.Marshal(ev)
	if err != nil {
		return data
	}
	return out
}

// dropFields leaves fields out of an event's data. JobStarted's
// request_digest is a digest of the documents' titles, paths and columns
// (it makes a repeated start idempotent), and input_id (also on
// DocumentsSubmitted) is its first half. Since JobStarted v2 both are
// keyed by the job's data key, but jobs logged earlier have an unkeyed
// SHA-256 there: shown, it would let any reader of the job confirm a guess
// at them, even after an erasure shredded the documents themselves.
func dropFields(data json.RawMessage, fields ...string) json.RawMessage {
	var ev map[string]json.RawMessage
	if json.Unmarshal(data, &ev) != nil {
		return data
	}
	n := len(ev)
	for _, f := range fields {
		delete(ev, f)
	}
	if len(ev) == n {
		return data
	}
	out, err := json.Marshal(ev)
	if err != nil {
		return data
	}
	return out
}
