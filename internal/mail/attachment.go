package mail

import (
	"fmt"
	"path"
	"regexp"
	"strings"
	"sync"
)

// safeExt is a file extension that can go into an S3 key as is.
var safeExt = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\.[a-z0-9]{1,8}$`) })

// Ext is the attachment's file extension, lower-cased, from its file name or
// else its content type (".png", ".pdf"); "" when neither gives a safe one.
func (a Attachment) Ext() string {
	if ext := strings.ToLower(path.Ext(strings.TrimSpace(a.Filename))); safeExt().MatchString(ext) {
		return ext
	}
	return typeExt[strings.ToLower(a.ContentType)]
}

// typeExt names the document types people send as proof of identity. It is a
// fixed table, not mime.ExtensionsByType, whose answer depends on the host's
// mime.types files.
var typeExt = map[string]string{
	"image/png":          ".png",
	"image/jpeg":         ".jpg",
	"image/gif":          ".gif",
	"image/webp":         ".webp",
	"image/heic":         ".heic",
	"image/heif":         ".heif",
	"image/tiff":         ".tif",
	"image/bmp":          ".bmp",
	"application/pdf":    ".pdf",
	"application/zip":    ".zip",
	"application/msword": ".doc",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
	"text/plain":     ".txt",
	"message/rfc822": ".eml",
}

// AttachmentKey is the S3 key for the i-th attachment (0-based) of the message
// with dedupeKey: "<prefix>/<dedupeKey>/<i><ext>", e.g.
// "attachments/3f9a…/0.png". The sender's file name is personal data (it is
// often the person's name) and never goes into the key; the same message
// delivered twice writes the same keys.
func AttachmentKey(prefix, dedupeKey string, i int, a Attachment) string {
	return fmt.Sprintf("%s/%s/%d%s", strings.TrimSuffix(prefix, "/"), dedupeKey, i, a.Ext())
}
