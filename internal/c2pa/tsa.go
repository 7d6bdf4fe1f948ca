package c2pa

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"time"

	"github.com/digitorus/timestamp"
)

// TimeStamper gets RFC 3161 time-stamps: a time-stamp authority's
// signed word that a digest existed at a time. A signature stamped so
// stays valid after its certificate expires, and readers show the time.
type TimeStamper interface {
	// Stamp returns a TimeStampToken (the CMS ContentInfo of RFC 3161,
	// not the whole reply) over imprint, a SHA-256 digest, carrying the
	// authority's certificate.
	Stamp(ctx context.Context, imprint []byte) ([]byte, error)
}

const (
	// tsaTimeout bounds one request to a time-stamp authority, whatever
	// the client's own timeout.
	tsaTimeout = 10 * time.Second
	// maxTSAReply bounds a reply, and so a token, which goes into every
	// signed file: real ones are 2 to 8 KiB.
	maxTSAReply = 64 << 10
)

type tsaClient struct {
	url    string
	shown  string // url without a password, for errors
	client *http.Client
}

// NewTSA returns a TimeStamper that asks the time-stamp authority at url
// over HTTP (RFC 3161 section 3.4: a POST of application/timestamp-query
// answered with application/timestamp-reply), with client (nil: one
// with a timeout of its own). Each reply is checked: granted, over the
// digest asked for, echoing the request's nonce, and signed by the
// certificate it carries.
func NewTSA(url string, client *http.Client) TimeStamper {
	if client == nil {
		client = &http.Client{Timeout: tsaTimeout}
	}
	return &tsaClient{url: url, shown: redacted(url), client: client}
}

func redacted(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return s
}

func (c *tsaClient) Stamp(ctx context.Context, imprint []byte) ([]byte, error) {
	tok, err := c.stamp(ctx, imprint)
	if err != nil {
		return nil, fmt.Errorf("time-stamp authority %s: %w", c.shown, err)
	}
	return tok, nil
}

func (c *tsaClient) stamp(ctx context.Context, imprint []byte) ([]byte, error) {
	if len(imprint) != sha256.Size {
		return nil, fmt.Errorf("an imprint of %d bytes, not a SHA-256 digest", len(imprint))
	}
	nonce, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		return nil, err
	}
	q, err := (&timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: imprint, Certificates: true, Nonce: nonce}).Marshal()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, tsaTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(q))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/timestamp-query")
	req.Header.Set("Accept", "application/timestamp-reply")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTSAReply+1))
	if err != nil {
		return nil, fmt.Errorf("reading the reply: %w", err)
	}
	if len(body) > maxTSAReply {
		return nil, fmt.Errorf("a reply of more than %d KiB", maxTSAReply>>10)
	}
	ts, err := guarded(body, timestamp.ParseResponse) // the status, the token and its signature
	if err != nil {
		return nil, fmt.Errorf("its reply (%d bytes, %s): %w", len(body), resp.Header.Get("Content-Type"), err)
	}
	switch {
	case ts.HashAlgorithm != crypto.SHA256 || !bytes.Equal(ts.HashedMessage, imprint):
		return nil, errors.New("the time-stamp is over another digest than the one asked for")
	case ts.Nonce == nil || ts.Nonce.Cmp(nonce) != 0:
		return nil, errors.New("the time-stamp does not echo the request's nonce")
	case len(ts.Certificates) == 0:
		return nil, errors.New("the time-stamp carries no certificate to check it with")
	}
	return ts.RawToken, nil
}
