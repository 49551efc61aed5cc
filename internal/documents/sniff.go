package documents

import "bytes"

// Content types a requester may upload as a document.
const (
	TypePDF  = "application/pdf"
	TypeJPEG = "image/jpeg"
	TypePNG  = "image/png"
)

// UploadTypes lists the content types of uploads, in the order the forms
// offer them.
func UploadTypes() []string { return []string{TypePDF, TypeJPEG, TypePNG} }

// UploadType reports whether ct (a media type without parameters) is one of
// UploadTypes.
func UploadType(ct string) bool { return ct == TypePDF || ct == TypeJPEG || ct == TypePNG }

// SniffLen is how many leading bytes Sniff needs to tell every upload type.
const SniffLen = 8

var (
	// pngSignature is the PNG file signature (PNG specification, 5.2).
	pngSignature = []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}
	// jpegSOI is the JPEG start-of-image marker followed by the first byte
	// of the next marker (ITU-T T.81, B.1.1.3): what every JPEG begins with.
	jpegSOI = []byte{0xff, 0xd8, 0xff}
	// pdfHeader begins the header line "%PDF-1.7" (ISO 32000-2, 7.5.2).
	pdfHeader = []byte("%PDF-")
)

// Sniff is the upload type that the first bytes of a file show: TypePDF
// for a header "%PDF-<digit>.<digit>", TypeJPEG for FF D8 FF, TypePNG for
// the 8-byte PNG signature; "" for anything else, including too few bytes
// to tell. Only head[:SniffLen] is read. The header must be at the very
// start: PDF readers accept one up to 1 KiB in, which would let another
// format hide in front.
func Sniff(head []byte) string {
	if len(head) > SniffLen {
		head = head[:SniffLen]
	}
	switch {
	case bytes.HasPrefix(head, pngSignature):
		return TypePNG
	case bytes.HasPrefix(head, jpegSOI):
		return TypeJPEG
	case len(head) >= len(pdfHeader)+3 && bytes.HasPrefix(head, pdfHeader) &&
		isDigit(head[5]) && head[6] == '.' && isDigit(head[7]):
		return TypePDF
	}
	return ""
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
