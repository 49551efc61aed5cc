package documents

import (
	"bytes"
	"testing"
)

var (
	samplePDF  = []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n")
	sampleJPEG = []byte{0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00}
	samplePNG  = []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'}
)

func TestSniff(t *testing.T) {
	tests := []struct {
		name string
		head []byte
		want string
	}{
		{"PDF", samplePDF, TypePDF},
		{"PDF 2.0", []byte("%PDF-2.0\n"), TypePDF},
		{"JPEG (JFIF)", sampleJPEG, TypeJPEG},
		{"JPEG (Exif)", []byte{0xff, 0xd8, 0xff, 0xe1}, TypeJPEG},
		{"PNG", samplePNG, TypePNG},
		{"empty", nil, ""},
		{"PDF header cut short", []byte("%PDF-1."), ""},
		{"PDF without a version", []byte("%PDF-x.y"), ""},
		{"PDF header after a byte", []byte(" %PDF-1.7"), ""},
		{"HTML", []byte("<!DOCTYPE html><html>"), ""},
		{"HTML claiming PDF later", []byte("<html>%PDF-1.7"), ""},
		{"GIF", []byte("GIF89a\x01\x00"), ""},
		{"PNG signature cut short", samplePNG[:7], ""},
		{"PNG with a wrong byte", append([]byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, 'x'}, 0), ""},
		{"JPEG SOI alone", []byte{0xff, 0xd8}, ""},
		{"ZIP (a DOCX)", []byte("PK\x03\x04\x14\x00"), ""},
		{"SVG", []byte("<svg xmlns="), ""},
	}
	for _, tt := range tests {
		if got := Sniff(tt.head); got != tt.want {
			t.Errorf("%s: Sniff = %q, want %q", tt.name, got, tt.want)
		}
	}
	for _, ct := range UploadTypes() {
		if !UploadType(ct) {
			t.Errorf("UploadType(%q) = false", ct)
		}
	}
	for _, ct := range []string{"", "image/gif", "text/html", "application/PDF", "application/pdf; x=y"} {
		if UploadType(ct) {
			t.Errorf("UploadType(%q) = true", ct)
		}
	}
}

// FuzzSniff: Sniff reads only SniffLen bytes, answers an upload type or
// nothing, and answers a type only for data that begins with its magic.
func FuzzSniff(f *testing.F) {
	for _, s := range [][]byte{samplePDF, sampleJPEG, samplePNG, nil, []byte("%PDF-1."), []byte("GIF89a")} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got := Sniff(data)
		if got != "" && !UploadType(got) {
			t.Fatalf("Sniff = %q, not an upload type", got)
		}
		head := data
		if len(head) > SniffLen {
			head = head[:SniffLen]
		}
		if again := Sniff(append(bytes.Clone(head), "tail that must not matter"...)); len(data) >= SniffLen && again != got {
			t.Fatalf("Sniff read past SniffLen: %q then %q", got, again)
		}
		switch got {
		case TypePDF:
			if !bytes.HasPrefix(data, []byte("%PDF-")) {
				t.Fatalf("PDF without %%PDF-: %q", head)
			}
		case TypeJPEG:
			if !bytes.HasPrefix(data, []byte{0xff, 0xd8, 0xff}) {
				t.Fatalf("JPEG without FF D8 FF: %x", head)
			}
		case TypePNG:
			if !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) {
				t.Fatalf("PNG without its signature: %x", head)
			}
		}
	})
}
