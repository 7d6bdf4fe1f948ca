package contract

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

var (
	gallerySlug = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$`)
	photoName   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
)

// ValidGalleryID checks a gallery id: 1-64 lower-case letters, digits and
// inner hyphens, so it is safe as a path segment and a subject token.
func ValidGalleryID(id string) error {
	if !gallerySlug.MatchString(id) || strings.Contains(id, "--") {
		return fmt.Errorf("gallery id %q is not a slug (1-64 of a-z, 0-9 and single inner hyphens)", Clip(id, 80))
	}
	return nil
}

// ValidPhotoName checks a photo's file name inside a gallery: 1-128 of
// letters, digits, '.', '_' and '-', starting with a letter or digit, no "..".
func ValidPhotoName(name string) error {
	if !photoName.MatchString(name) || strings.Contains(name, "..") {
		return fmt.Errorf("photo name %q is not safe (1-128 of A-Z, a-z, 0-9, '.', '_', '-', starting with a letter or digit, no \"..\")", Clip(name, 80))
	}
	return nil
}

// SplitKey splits an originals key "<gallery>/<name>" and checks both parts.
func SplitKey(key string) (gallery, name string, err error) {
	gallery, name, ok := strings.Cut(key, "/")
	if !ok || gallery == "" || name == "" {
		return "", "", fmt.Errorf("object %q is not of the form <gallery-id>/<file>", Clip(key, 120))
	}
	if strings.Contains(name, "/") {
		return "", "", fmt.Errorf("object %q is nested: a gallery holds files, not folders", Clip(key, 120))
	}
	if err := ValidGalleryID(gallery); err != nil {
		return "", "", err
	}
	if err := ValidPhotoName(name); err != nil {
		return "", "", err
	}
	return gallery, name, nil
}

// Clip shortens s to at most n bytes without splitting a character, marking
// the cut with "…": how long names and reasons go into events and errors.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return Cut(s, n) + "…"
}

// Cut is the longest prefix of s of at most n bytes that ends at a
// character boundary: byte limits (IIM's fields) never split a character.
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
