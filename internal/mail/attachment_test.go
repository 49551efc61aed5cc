package mail

import "testing"

func TestAttachmentKey(t *testing.T) {
	tests := []struct {
		a    Attachment
		want string
	}{
		{Attachment{Filename: "张伟身份证.PNG", ContentType: "image/png"}, "attachments/k/0.png"},
		{Attachment{Filename: "", ContentType: "application/pdf"}, "attachments/k/0.pdf"},
		{Attachment{Filename: "id.pdf.exe", ContentType: "application/octet-stream"}, "attachments/k/0.exe"},
		{Attachment{Filename: "../../etc/passwd", ContentType: "x-unknown/x"}, "attachments/k/0"},
		{Attachment{Filename: "a.tar.gz/../x", ContentType: ""}, "attachments/k/0"},
		{Attachment{Filename: "scan.jpeg ", ContentType: "image/jpeg"}, "attachments/k/0.jpeg"},
		{Attachment{Filename: "scan.jpeg-broken!", ContentType: "image/jpeg"}, "attachments/k/0.jpg"},
	}
	for _, tt := range tests {
		if got := AttachmentKey("attachments/", "k", 0, tt.a); got != tt.want {
			t.Errorf("AttachmentKey(%q, %q) = %q, want %q", tt.a.Filename, tt.a.ContentType, got, tt.want)
		}
	}
	msg := parseFile(t, "attachment_id_card.eml")
	k := DedupeKey(msg, "b/o")
	for i, a := range msg.Attachments {
		key := AttachmentKey("attachments", k, i, a)
		if key != AttachmentKey("attachments", k, i, a) || key == "" {
			t.Errorf("unstable key %q", key)
		}
		for _, r := range key {
			if r > 127 {
				t.Errorf("key %q carries the file name", key)
				break
			}
		}
	}
}
