package pipeline

import (
	"encoding/json"
	"time"
)

// Subjects of the assembler's events; the last token is the gallery id.
const (
	// SubjectArticleReady: a gallery's record was published for the first
	// time (version 1).
	SubjectArticleReady = "photodesk.article.ready"
	// SubjectArticleUpdated: a new version of a published record (a new
	// manifest, a replaced photo).
	SubjectArticleUpdated = "photodesk.article.updated"
	// SubjectGalleryHeld: a gallery cannot be published because photos it
	// lists failed; it says which and why.
	SubjectGalleryHeld = "photodesk.gallery.held"
)

// ArticleEvent announces one version of a gallery's publish-ready record.
type ArticleEvent struct {
	Gallery        string    `json:"gallery"`
	Version        int       `json:"version"`
	FirstCreated   time.Time `json:"firstcreated"`
	VersionCreated time.Time `json:"versioncreated"`
	// Bucket, Key and PreviewKey locate the record (ninjs JSON) and its
	// HTML preview in the articles bucket.
	Bucket     string `json:"bucket"`
	Key        string `json:"key"`
	PreviewKey string `json:"preview_key"`
	Photos     int    `json:"photos"`
	// Record is the ninjs 2.2 item itself, so a subscriber needs nothing
	// else.
	Record json.RawMessage `json:"record"`
}

// GalleryHeld says why a gallery is not published.
type GalleryHeld struct {
	Gallery string      `json:"gallery"`
	Failed  []HeldPhoto `json:"failed"`
	HeldAt  time.Time   `json:"held_at"`
}

// HeldPhoto is one listed photo that failed, with the stage and reason.
type HeldPhoto struct {
	Photo  string `json:"photo"`
	Stage  string `json:"stage"`
	Reason string `json:"reason"`
}
