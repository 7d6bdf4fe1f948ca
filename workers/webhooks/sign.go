package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader carries t=<unix seconds>,kid=<key id>,v1=<hex HMAC>.
const SignatureHeader = "Photodesk-Signature"

// DefaultTolerance is how far a request's timestamp may be from the
// receiver's clock when Verify is given no tolerance.
const DefaultTolerance = 5 * time.Minute

// Why Verify refused a request. Every error Verify returns wraps one.
var (
	ErrMalformed  = errors.New("malformed signature header")
	ErrUnknownKey = errors.New("unknown signing key")
	ErrTimestamp  = errors.New("signature timestamp outside the tolerance")
	ErrMismatch   = errors.New("signature does not match")
)

// Signature is hex(HMAC-SHA256(secret, "<unix seconds>.<body>")).
func Signature(secret string, unix int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(unix, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Sign is the Photodesk-Signature header of body sent at t, signed with
// secret under keyID.
func Sign(keyID, secret string, t time.Time, body []byte) string {
	unix := t.Unix()
	return fmt.Sprintf("t=%d,kid=%s,v1=%s", unix, keyID, Signature(secret, unix, body))
}

// Verify checks a Photodesk-Signature header against the raw request body
// (the exact bytes received, before any JSON decoding). secrets maps key
// ids to secrets: keep the old and new key during a rotation. The header's
// timestamp must be within tolerance of now, either way (DefaultTolerance
// when tolerance <= 0), so a recorded request cannot be replayed later;
// receivers should also drop repeats of the Photodesk-Delivery id.
// Elements other than t, kid and v1 are ignored; several v1 are accepted
// if any matches.
func Verify(header string, body []byte, secrets map[string]string, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var (
		ts, kid string
		sigs    []string
	)
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts = v
		case "kid":
			kid = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	if ts == "" || kid == "" || len(sigs) == 0 {
		return fmt.Errorf("%w: want t=<unix seconds>,kid=<key id>,v1=<hex>", ErrMalformed)
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q is not unix seconds", ErrMalformed, ts)
	}
	secret, ok := secrets[kid]
	if !ok || secret == "" {
		return fmt.Errorf("%w %q", ErrUnknownKey, kid)
	}
	if d := now.Sub(time.Unix(unix, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: signed at %s, %s from now (tolerance %s)", ErrTimestamp,
			time.Unix(unix, 0).UTC().Format(time.RFC3339), d.Round(time.Second), tolerance)
	}
	want, _ := hex.DecodeString(Signature(secret, unix, body))
	for _, s := range sigs {
		got, err := hex.DecodeString(s)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrMismatch
}
