package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
)

// Roles a token can have.
const (
	RolePhotographer = "photographer" // create, upload, submit, read own galleries
	RoleNewsroom     = "newsroom"     // read every gallery
)

// Token is one API credential.
type Token struct {
	Name  string // who: a photographer's or a system's name
	Role  string
	Value string
}

// ParseTokens reads "name:role:token,...".
func ParseTokens(spec string) ([]Token, error) {
	var out []Token
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		f := strings.SplitN(item, ":", 3)
		if len(f) != 3 || f[0] == "" {
			return nil, fmt.Errorf("API token %q: want name:role:token", mask(item))
		}
		if f[1] != RolePhotographer && f[1] != RoleNewsroom {
			return nil, fmt.Errorf("API token for %s: role %q is not photographer or newsroom", f[0], f[1])
		}
		if len(f[2]) < 16 {
			return nil, fmt.Errorf("API token for %s: at least 16 characters", f[0])
		}
		out = append(out, Token{Name: f[0], Role: f[1], Value: f[2]})
	}
	return out, nil
}

func mask(s string) string {
	if i := strings.LastIndex(s, ":"); i >= 0 {
		return s[:i+1] + "…"
	}
	return "…"
}

// caller is who made a request.
type caller struct {
	Name, Role string
}

// authenticate finds the bearer token's owner, comparing in constant time
// against every configured token (hashes, so lengths leak nothing either).
func (s *Server) authenticate(r *http.Request) (caller, bool) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return caller{}, false
	}
	got := sha256.Sum256([]byte(tok))
	var found caller
	match := 0
	for _, t := range s.tokens {
		want := sha256.Sum256([]byte(t.Value))
		if subtle.ConstantTimeCompare(got[:], want[:]) == 1 {
			found, match = caller{Name: t.Name, Role: t.Role}, 1
		}
	}
	return found, match == 1
}
