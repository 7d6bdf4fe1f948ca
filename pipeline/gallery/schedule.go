package gallery

import "time"

// Timing is when a ready gallery's unpublished inputs go out.
type Timing int

const (
	// PublishNow: no publish_at, or it has come (or passed).
	PublishNow Timing = iota
	// PublishLater: at the manifest's publish_at.
	PublishLater
	// Withhold: the manifest withdraws a gallery never published, so
	// nothing goes out. (A published one gets a version saying so.)
	Withhold
)

// When decides the timing of a ready gallery's unpublished inputs at now.
// fired is the publish_at of a schedule JetStream has just fired: the
// server's word that the time has come, even when this process's clock
// is a little behind, so a schedule never has to be made again for the
// same time.
func (s *State) When(now time.Time, fired *time.Time) (Timing, time.Time) {
	m := s.Manifest
	if m == nil {
		return PublishNow, time.Time{}
	}
	if m.Withdrawn() && s.Published == nil {
		return Withhold, time.Time{}
	}
	if m.PublishAt == nil {
		return PublishNow, time.Time{}
	}
	at := m.PublishAt.UTC()
	if !at.After(now) || (fired != nil && fired.Equal(at)) {
		return PublishNow, at
	}
	return PublishLater, at
}
