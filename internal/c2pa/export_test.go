package c2pa

// Doors into the package for its external tests (package c2pa_test),
// which edit signed files into broken ones.

// Embed puts a manifest store into a file in its format's place.
func Embed(file []byte, format string, store []byte) ([]byte, error) {
	out, _, err := embed(file, format, store)
	return out, err
}

// Edited drops what the boxes from root down to each changed box
// remember of their bytes, so that root.Append writes the edits and
// leaves every other box as it was read.
func Edited(root *Box, changed ...*Box) *Box {
	var walk func(b, target *Box) bool
	walk = func(b, target *Box) bool {
		found := b == target
		for _, c := range b.Children {
			found = walk(c, target) || found
		}
		if found {
			b.payload = nil
		}
		return found
	}
	for _, c := range changed {
		walk(root, c)
	}
	return root
}
