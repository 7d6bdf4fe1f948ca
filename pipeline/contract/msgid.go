package contract

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
)

// MsgID is the Nats-Msg-Id of an event derived from one object version, so
// that a redelivered or duplicated input publishes no second event.
func MsgID(kind string, r Ref) string {
	return kind + ":" + r.Bucket + "/" + r.Key + "@" + r.ETag
}

// ResultMsgID is the Nats-Msg-Id of a role's result for one object version:
// MsgID followed by a short hash of the reprocess run it answers (if any)
// and of what the result says (content: derivative keys and ETags, the EXIF
// facts). A redelivered input that finds the same result publishes nothing
// twice; a reprocess run's result, or a changed one (new watermark text, new
// presets), is published even within the duplicate window.
func ResultMsgID(kind string, r Ref, run string, content ...string) string {
	h := sha256.New()
	io.WriteString(h, run)
	for _, c := range content {
		io.WriteString(h, "\x00"+c)
	}
	return MsgID(kind, r) + "#" + hex.EncodeToString(h.Sum(nil)[:8])
}

// FailureMsgID is the Nats-Msg-Id of stage's failure event for the event
// at seq on subject: the two ways a role gives up on an event (its last
// attempt failing, and JetStream's max-deliveries advisory) publish one.
func FailureMsgID(stage, subject string, seq uint64) string {
	return fmt.Sprintf("failed:%s:%s:%d", stage, subject, seq)
}

// ReprocessMsgID is the Nats-Msg-Id of a `photodesk reprocess` run's
// announcement of an original whose upload announced msgID: new for each
// run, so a run gets through the duplicate window of the upload.
func ReprocessMsgID(run, msgID string) string { return "reprocess:" + run + ":" + msgID }

// RefocusMsgID is the Nats-Msg-Id of the assembler's announcement of an
// original whose crops were made around another focal point than its
// gallery.json now gives (focus, FocusKey's form): once per original and
// focal point, however many events find the crops stale.
func RefocusMsgID(r Ref, focus string) string {
	return "refocus:" + focus + ":" + MsgID("uploaded", r)
}
