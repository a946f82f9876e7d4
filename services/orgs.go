package services

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/services/job"
	"github.com/tagstream/tagstream/services/org"
)

// OrgHandler runs organisation commands: it folds the organisation's
// events (one subject, a handful of events), asks org.Decide and appends
// with the subject's last sequence as the guard, so two admins cannot
// both remove the last other admin.
type OrgHandler struct {
	store            events.Store
	callbacks        bool // see WithCallbacks
	callbacksPrivate bool
}

// NewOrgHandler returns a handler appending to store.
func NewOrgHandler(store events.Store) OrgHandler { return OrgHandler{store: store} }

// OrgResult is the outcome of an organisation command.
type OrgResult struct {
	OrgID string
	Seq   uint64 // of the appended event; 0 when nothing changed
}

// LoadOrg folds an organisation's events; a missing one is NotFound.
func LoadOrg(ctx context.Context, store events.Store, orgID string) (*org.State, error) {
	if !events.ValidOrgID(orgID) {
		return nil, apperr.New(apperr.NotFound, "organisation %q not found", orgID)
	}
	s := org.New(orgID)
	err := store.Read(ctx, events.OrgSubject(orgID), 1, func(env events.Envelope) error {
		if err := s.Apply(env); err != nil && !events.IsUnknown(err) {
			return err
		}
		return nil
	})
	if err != nil {
		return nil, apperr.Wrap(err, "load organisation")
	}
	if !s.Exists() {
		return nil, apperr.New(apperr.NotFound, "organisation %q not found", orgID)
	}
	return s, nil
}

// Create makes a new organisation whose admin is the caller.
func (h OrgHandler) Create(ctx context.Context, by events.Actor, name string) (OrgResult, error) {
	id := newOrgID()
	evs, err := org.Decide(org.New(id), org.Command{Action: org.ActionCreate, By: by, Name: name})
	if err != nil {
		return OrgResult{}, err
	}
	seq, err := h.append(ctx, id, by, evs, 0)
	return OrgResult{OrgID: id, Seq: seq}, err
}

// Change adds a member, changes a role or removes a member.
func (h OrgHandler) Change(ctx context.Context, orgID string, cmd org.Command) (OrgResult, error) {
	var res OrgResult
	err := job.WithRetry(ctx, 10, func() error {
		s, err := LoadOrg(ctx, h.store, orgID)
		if err != nil {
			return err
		}
		evs, err := org.Decide(s, cmd)
		if err != nil {
			return err
		}
		seq, err := h.append(ctx, orgID, cmd.By, evs, s.Seq)
		res = OrgResult{OrgID: orgID, Seq: seq}
		return err
	})
	return res, err
}

func (h OrgHandler) append(ctx context.Context, orgID string, by events.Actor, evs []events.Event, last uint64) (uint64, error) {
	var seq uint64
	for _, ev := range evs {
		env, err := events.New(orgID, by, ev)
		if err != nil {
			return 0, err
		}
		seq, err = h.store.Append(ctx, env, &events.Expect{Subject: events.OrgSubject(orgID), Seq: last})
		if err != nil {
			if errors.Is(err, events.ErrConflict) {
				return 0, err
			}
			return 0, apperr.Wrap(err, "append "+ev.EventType())
		}
		last = seq
	}
	return seq, nil
}

func newOrgID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "org_" + hex.EncodeToString(b[:])
}

// OrgDirectory is every organisation's membership in memory, folded from
// orgs.* by Run, for the per-request questions "which roles has this
// address" and "which organisations is it in". Commands do not use it:
// they fold the organisation from the log (LoadOrg).
type OrgDirectory struct {
	mu      sync.Mutex
	changed *sync.Cond
	orgs    map[string]*org.State
	applied uint64
}

// NewOrgDirectory returns an empty directory.
func NewOrgDirectory() *OrgDirectory {
	d := &OrgDirectory{orgs: map[string]*org.State{}}
	d.changed = sync.NewCond(&d.mu)
	return d
}

// CatchUp folds the organisation events stored so far (before serving,
// so the first requests see every role).
func (d *OrgDirectory) CatchUp(ctx context.Context, store events.Store) error {
	return store.Read(ctx, events.SubjectAllOrgs, d.next(), d.apply)
}

// Run follows the organisation events until ctx ends; run again after a
// failure, it goes on from where it was.
func (d *OrgDirectory) Run(ctx context.Context, store events.Store) error {
	return store.Follow(ctx, events.SubjectAllOrgs, d.next(), d.apply)
}

func (d *OrgDirectory) next() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.applied + 1
}

func (d *OrgDirectory) apply(env events.Envelope) error {
	ev, err := env.Decode()
	d.mu.Lock()
	defer d.mu.Unlock()
	if env.Seq <= d.applied {
		return nil
	}
	if err == nil {
		s := d.orgs[env.JobID]
		if s == nil {
			s = org.New(env.JobID)
			d.orgs[env.JobID] = s
		}
		s.ApplyEvent(env, ev)
	}
	// An unreadable event (a newer release's) is left out; the
	// organisation's other events still count.
	d.applied = env.Seq
	d.changed.Broadcast()
	return nil
}

// WaitFor waits until the directory has folded every organisation event
// up to seq, so an admin's change applies to the next request.
func (d *OrgDirectory) WaitFor(ctx context.Context, seq uint64) error {
	stop := context.AfterFunc(ctx, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.changed.Broadcast()
	})
	defer stop()
	d.mu.Lock()
	defer d.mu.Unlock()
	for d.applied < seq {
		if err := ctx.Err(); err != nil {
			return err
		}
		d.changed.Wait()
	}
	return nil
}

// Roles returns the role of the account (userID, email) in each
// organisation it belongs to (org.Member.HeldBy).
func (d *OrgDirectory) Roles(userID, email string) map[string]string {
	email = org.CanonicalEmail(email)
	if email == "" {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var out map[string]string
	for id, s := range d.orgs {
		if m, ok := s.Members[email]; ok && m.HeldBy(userID) {
			if out == nil {
				out = map[string]string{}
			}
			out[id] = m.Role
		}
	}
	return out
}

// OrgView is one organisation as a member sees it.
type OrgView struct {
	ID        string       `json:"org_id"`
	Name      string       `json:"name"`
	Role      string       `json:"role"` // the caller's
	CreatedAt time.Time    `json:"created_at"`
	CreatedBy events.Actor `json:"created_by"`
}

// Mine lists the organisations the account belongs to, by name.
func (d *OrgDirectory) Mine(userID, email string) []OrgView {
	email = org.CanonicalEmail(email)
	d.mu.Lock()
	defer d.mu.Unlock()
	out := []OrgView{}
	for id, s := range d.orgs {
		if m, ok := s.Members[email]; ok && m.HeldBy(userID) && s.Exists() {
			out = append(out, OrgView{ID: id, Name: s.Name, Role: m.Role, CreatedAt: s.CreatedAt, CreatedBy: s.CreatedBy})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Members lists an organisation's members by email.
func (d *OrgDirectory) Members(orgID string) []org.Member {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.orgs[orgID]
	if s == nil {
		return nil
	}
	out := make([]org.Member, 0, len(s.Members))
	for _, m := range s.Members {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Email < out[j].Email })
	return out
}

// Settings returns an organisation's settings (zero for an unknown one).
func (d *OrgDirectory) Settings(orgID string) org.Settings {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s := d.orgs[orgID]; s != nil {
		return s.Settings
	}
	return org.Settings{}
}

// MemberOf returns email's membership in each organisation it belongs
// to, whichever account holds it.
func (d *OrgDirectory) MemberOf(email string) map[string]org.Member {
	email = org.CanonicalEmail(email)
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]org.Member{}
	for id, s := range d.orgs {
		if m, ok := s.Members[email]; ok {
			out[id] = m
		}
	}
	return out
}

// Exists reports whether the organisation was created.
func (d *OrgDirectory) Exists(orgID string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.orgs[orgID]
	return s != nil && s.Exists()
}

// Named returns the ids of the organisations called name (any case).
func (d *OrgDirectory) Named(name string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for id, s := range d.orgs {
		if s.Exists() && strings.EqualFold(s.Name, name) {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}
