package imaging

import "time"

// What this package's external tests (package imaging_test, which run the
// derive handler over the shared decodes) need of its insides.

const MaxShared = maxShared

var NoLimits = noLimits

// SetTTL shortens how long a shared decode waits for the other role.
func (s *Decodes) SetTTL(ttl time.Duration) { s.ttl = ttl }
