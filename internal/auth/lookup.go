package auth

import "context"

// UserByEmail returns the password account registered with email, if any
// (organisations use it to tell a member from an address still to join).
func (s *Service) UserByEmail(ctx context.Context, email string) (User, bool, error) {
	email = canonicalEmail(email)
	if checkEmail(email) != nil {
		return User{}, false, nil
	}
	rec, found, err := s.userByEmail(ctx, email)
	if err != nil || !found {
		return User{}, false, err
	}
	return rec.public(), true, nil
}

// RegistrationMode is TAGSTREAM_REGISTRATION's mode ("" counts as open).
func (s *Service) RegistrationMode() string {
	if s.cfg.Registration == "" {
		return RegistrationOpen
	}
	return s.cfg.Registration
}
