package assembler

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/pipeline/contract"
)

// scheduleOutput is the JetStream message schedule that publishes the
// gallery's GalleryDue at publish_at: the server keeps it in the events
// stream (durable, replicated, through any restart of any process),
// fires it once, and a new schedule for the gallery replaces the old, so
// a changed time needs nothing else. A stale one that fires anyway finds
// the gallery not due and does nothing.
func scheduleOutput(gallery string, at time.Time) (contract.Output, error) {
	o, err := contract.JSONOutput(contract.GallerySubject(contract.SubjectGallerySchedule, gallery), "",
		contract.GalleryDue{Gallery: gallery, PublishAt: at})
	if err != nil {
		return o, err
	}
	// @at takes whole seconds: round up, so it never fires before the time.
	fire := at.Truncate(time.Second)
	if fire.Before(at) {
		fire = fire.Add(time.Second)
	}
	o.Header = map[string][]string{
		jetstream.ScheduleHeader:       {"@at " + fire.UTC().Format(time.RFC3339)},
		jetstream.ScheduleTargetHeader: {contract.GallerySubject(contract.SubjectGalleryDue, gallery)},
		// The events stream's MaxAge must not remove a schedule further
		// off than it.
		jetstream.MsgTTLHeader: {"never"},
	}
	return o, nil
}
