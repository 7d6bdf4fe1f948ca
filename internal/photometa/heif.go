package photometa

// readHEIF only names the format. HEIF (HEIC, AVIF) keeps its EXIF as an
// item located through the meta box's iinf/iloc tables; reading it is not
// done yet, so the photo is reported without EXIF rather than refused.
func readHEIF(x *Exif) (container, error) {
	x.note("HEIF: EXIF not read")
	return container{unread: true}, nil
}
