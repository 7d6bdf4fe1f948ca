package webhooks_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/photodesk/photodesk/workers/webhooks"
)

func TestVerify(t *testing.T) {
	body := []byte(`{"gallery":"summer-expo","version":1,"record":{"uri":"urn:photodesk:gallery:summer-expo"}}`)
	secrets := map[string]string{"k1": "0123456789abcdef0123456789abcdef", "k0": "an-older-key-still-accepted-0000"}
	at := time.Unix(1785200000, 0)
	header := webhooks.Sign("k1", secrets["k1"], at, body)
	if !strings.HasPrefix(header, fmt.Sprintf("t=%d,kid=k1,v1=", at.Unix())) || len(header) != len(fmt.Sprintf("t=%d,kid=k1,v1=", at.Unix()))+64 {
		t.Fatalf("header %q, want t=<unix>,kid=k1,v1=<64 hex>", header)
	}

	cases := []struct {
		name   string
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		{"correct", header, body, at.Add(3 * time.Second), nil},
		{"correct, clock behind", header, body, at.Add(-30 * time.Second), nil},
		{"older key during rotation", webhooks.Sign("k0", secrets["k0"], at, body), body, at, nil},
		{"element order and spaces do not matter", "v1=" + strings.Split(header, "v1=")[1] + ", kid=k1 , t=" + fmt.Sprint(at.Unix()) + ",v2=future", body, at, nil},
		{"tampered body", header, []byte(strings.Replace(string(body), `"version":1`, `"version":2`, 1)), at, webhooks.ErrMismatch},
		{"body with a byte added", header, append(append([]byte{}, body...), '\n'), at, webhooks.ErrMismatch},
		{"wrong key id", strings.Replace(header, "kid=k1", "kid=k9", 1), body, at, webhooks.ErrUnknownKey},
		{"signed by another key under k1", webhooks.Sign("k1", "a-different-secret-of-32-bytes-xx", at, body), body, at, webhooks.ErrMismatch},
		{"key id swapped to the other known key", strings.Replace(header, "kid=k1", "kid=k0", 1), body, at, webhooks.ErrMismatch},
		{"timestamp changed", strings.Replace(header, fmt.Sprint(at.Unix()), fmt.Sprint(at.Unix()+1), 1), body, at, webhooks.ErrMismatch},
		{"too old: a replay", header, body, at.Add(5*time.Minute + time.Second), webhooks.ErrTimestamp},
		{"from the future", header, body, at.Add(-5*time.Minute - time.Second), webhooks.ErrTimestamp},
		{"empty", "", body, at, webhooks.ErrMalformed},
		{"no v1", fmt.Sprintf("t=%d,kid=k1", at.Unix()), body, at, webhooks.ErrMalformed},
		{"bad timestamp", strings.Replace(header, fmt.Sprint(at.Unix()), "yesterday", 1), body, at, webhooks.ErrMalformed},
		{"not hex", strings.Split(header, "v1=")[0] + "v1=zz", body, at, webhooks.ErrMismatch},
	}
	for _, c := range cases {
		err := webhooks.Verify(c.header, c.body, secrets, c.now, 5*time.Minute)
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: Verify = %v, want %v", c.name, err, c.want)
		}
	}
	// No tolerance given: DefaultTolerance.
	if err := webhooks.Verify(header, body, secrets, at.Add(webhooks.DefaultTolerance-time.Second), 0); err != nil {
		t.Errorf("within the default tolerance: %v", err)
	}
	if err := webhooks.Verify(header, body, secrets, at.Add(webhooks.DefaultTolerance+time.Second), 0); !errors.Is(err, webhooks.ErrTimestamp) {
		t.Errorf("past the default tolerance: %v", err)
	}
	// An error never shows a secret.
	for _, h := range []string{header, strings.Replace(header, "kid=k1", "kid=k9", 1)} {
		if err := webhooks.Verify(h, body, secrets, at.Add(time.Hour), time.Minute); err == nil || strings.Contains(err.Error(), secrets["k1"]) {
			t.Errorf("Verify error %v", err)
		}
	}
}

// The signature is what the documentation says, so receivers in any
// language can compute it: hex HMAC-SHA256 of "<t>.<body>".
func TestSignatureIsDocumentedHMAC(t *testing.T) {
	// printf '1785200000.{"a":1}' | openssl dgst -sha256 -hmac 'topsecret-topsecret'
	got := webhooks.Signature("topsecret-topsecret", 1785200000, []byte(`{"a":1}`))
	const want = "aa2fb85f6bd3fefd753af5683c4a6b47b3dccd9c5518f14f59164d2f4cf337ea"
	if got != want {
		t.Errorf("Signature = %s, want %s (openssl's)", got, want)
	}
}
