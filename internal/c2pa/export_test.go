package c2pa

// Doors into the package for its external tests (package c2pa_test),
// which edit signed files into broken ones.

// Embed puts a manifest store into a file in its format's place.
func Embed(file []byte, format string, store []byte) ([]byte, error) {
	out, _, err := embed(file, format, store)
	return out, err
}

// Edited drops what a parsed box remembers of its bytes, so that
// Append writes it, and every box under it, from its fields as edited.
func Edited(b *Box) *Box {
	b.payload = nil
	for _, c := range b.Children {
		Edited(c)
	}
	return b
}
