package contract

// Streams. S3Events holds MinIO's bucket notifications as MinIO wrote them;
// Events holds everything photodesk itself publishes. Both keep history so
// a new consumer, or a newsroom system, can replay it.
const (
	S3EventsStream = "S3_EVENTS"
	EventsStream   = "PHOTODESK"

	// S3EventsSubject is where MinIO publishes notifications for the
	// originals bucket.
	S3EventsSubject = "photodesk.s3.originals"
)

// Subjects photodesk publishes. The last token is the gallery id (a slug, so
// always a valid token), letting a subscriber follow one gallery.
const (
	SubjectPhotoUploaded    = "photodesk.photo.uploaded"
	SubjectGallerySubmitted = "photodesk.gallery.submitted"
	SubjectPhotoExif        = "photodesk.photo.exif"
	SubjectPhotoRenditions  = "photodesk.photo.renditions"
	SubjectPhotoWatermarked = "photodesk.photo.watermarked"
	SubjectFailed           = "photodesk.failed" // photodesk.failed.<stage>.<gallery>

	// SubjectArticleReady: a gallery's record was published for the first
	// time (version 1).
	SubjectArticleReady = "photodesk.article.ready"
	// SubjectArticleUpdated: a new version of a published record (a new
	// manifest, a replaced photo).
	SubjectArticleUpdated = "photodesk.article.updated"
	// SubjectGalleryHeld: a gallery cannot be published because photos it
	// lists failed; it says which and why.
	SubjectGalleryHeld = "photodesk.gallery.held"
	// SubjectGallerySchedule holds a scheduled gallery's schedule: one
	// JetStream message schedule per gallery (a new one replaces it),
	// which the server publishes on SubjectGalleryDue at the gallery's
	// publish_at. No role consumes the schedule itself.
	SubjectGallerySchedule = "photodesk.gallery.schedule"
	// SubjectGalleryDue: a scheduled gallery's time has come.
	SubjectGalleryDue = "photodesk.gallery.due"
)

// EventsSubjects are the subjects of EventsStream.
var EventsSubjects = []string{"photodesk.photo.>", "photodesk.gallery.>", "photodesk.article.>", "photodesk.failed.>"}

// ReservedPrefix starts the originals keys photodesk writes for itself
// (the notification canary); ingest ignores them.
const ReservedPrefix = ".photodesk/"

// ManifestName is the gallery manifest's object name inside a gallery.
const ManifestName = "gallery.json"

// RolesHeader addresses an event to some roles only (comma separated), as
// `photodesk reprocess --role` does; the others ack it untouched. An event
// without it is for every role that consumes its subject.
const RolesHeader = "Photodesk-Roles"

// GallerySubject is subject prefix + "." + gallery.
func GallerySubject(prefix, gallery string) string {
	if gallery == "" {
		gallery = "_"
	}
	return prefix + "." + gallery
}

// FailedSubject is the subject of a failure event for stage and gallery.
func FailedSubject(stage, gallery string) string {
	return GallerySubject(SubjectFailed+"."+stage, gallery)
}
