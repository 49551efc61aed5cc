// Package export gathers partners' exports of a data subject's data into one
// package for access and portability requests (policy 五.1): a zip holding
// export.json (machine-readable, for portability) and export.html (a
// readable page in the requester's language), stored in S3 encrypted at rest
// (SSE-KMS or SSE-S3) under a deterministic key, and offered by a
// time-limited presigned link. The link goes only into the reply to the
// requester, never into a workflow's output or a log.
package export

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"dsrflow/internal/dsr"
	"dsrflow/internal/store"
)

// Objects is where exports are kept: an S3 bucket (package s3bucket, which
// only the functions that keep exports link) or, in tests, a fake.
type Objects interface {
	// Put stores body under key, encrypted at rest as enc says.
	Put(ctx context.Context, key, contentType string, body []byte, enc Encryption) error
	// Get reads the object under key.
	Get(ctx context.Context, key string) ([]byte, error)
	// PresignGet returns a URL that downloads key, saved as filename, for
	// ttl; and when it expires.
	PresignGet(ctx context.Context, key, filename string, ttl time.Duration) (string, time.Time, error)
}

// Open makes the Objects of the named bucket from an AWS configuration
// (s3bucket.Open).
type Open func(cfg aws.Config, bucket string) Objects

// Encryption is how an object is encrypted at rest.
type Encryption struct {
	// SSE is SSEKMS or SSES3.
	SSE string
	// KMSKeyID picks the key for SSE-KMS (empty: the bucket's default).
	KMSKeyID string
}

// Encryption at rest.
const (
	SSEKMS = "aws:kms"
	SSES3  = "AES256"
)

// DefaultLinkTTL is how long a download link works; SigV4 presigned URLs
// cannot outlive 7 days.
const (
	DefaultLinkTTL = 72 * time.Hour
	MaxLinkTTL     = 7 * 24 * time.Hour
)

// Store keeps exports in a bucket.
type Store struct {
	Objects Objects
	// SSE is SSEKMS (the default) or SSES3; KMSKeyID picks the key for
	// SSE-KMS (empty: the bucket's default / aws/s3 key).
	SSE      string
	KMSKeyID string
	// LinkTTL is the download link's lifetime (default DefaultLinkTTL).
	LinkTTL time.Duration
}

// PartnerKey is where a partner's raw export is kept.
func PartnerKey(requestID, partnerID string) string {
	return "exports/" + requestID + "/partners/" + partnerID + ".json"
}

// PackageKey is where the package of a request is kept.
func PackageKey(requestID string) string { return "exports/" + requestID + "/package.zip" }

func (s *Store) put(ctx context.Context, key, contentType string, body []byte) error {
	enc := Encryption{SSE: s.SSE, KMSKeyID: s.KMSKeyID}
	switch s.SSE {
	case "":
		enc.SSE = SSEKMS
	case SSEKMS:
	case SSES3:
		enc.KMSKeyID = ""
	default:
		return fmt.Errorf("put %s: unknown server-side encryption %q", key, s.SSE)
	}
	return s.Objects.Put(ctx, key, contentType, body, enc)
}

// ErrNotJSON is returned (wrapped) for an export that is not a JSON value.
var ErrNotJSON = errors.New("export is not JSON")

// PutPartnerExport keeps one partner's export (a JSON value), encrypted.
func (s *Store) PutPartnerExport(ctx context.Context, requestID, partnerID string, data []byte) (string, error) {
	if !json.Valid(data) {
		return "", fmt.Errorf("export of partner %s for request %s: %w", partnerID, requestID, ErrNotJSON)
	}
	key := PartnerKey(requestID, partnerID)
	return key, s.put(ctx, key, "application/json", data)
}

func (s *Store) get(ctx context.Context, key string) ([]byte, error) {
	return s.Objects.Get(ctx, key)
}

// Link returns a presigned GET URL of the request's package and when it
// expires. The URL is a capability: put it only in the reply.
func (s *Store) Link(ctx context.Context, requestID string) (string, time.Time, error) {
	ttl := s.LinkTTL
	if ttl <= 0 {
		ttl = DefaultLinkTTL
	}
	ttl = min(ttl, MaxLinkTTL)
	link, expires, err := s.Objects.PresignGet(ctx, PackageKey(requestID), "export-"+requestID+".zip", ttl)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("link to the package of request %s: %w", requestID, err)
	}
	return link, expires, nil
}

// Package is the content of an export package.
type Package struct {
	RequestID   string     `json:"requestId"`
	Kind        dsr.Kind   `json:"kind"`
	Locale      dsr.Locale `json:"locale"`
	GeneratedAt time.Time  `json:"generatedAt"`
	Partners    []Part     `json:"partners"`
	// Missing are partners whose export is not in the package, and why.
	Missing []Missing `json:"missing,omitempty"`
}

// Part is one partner's data.
type Part struct {
	PartnerID string          `json:"partnerId"`
	Name      string          `json:"name"`
	Receipt   string          `json:"receipt,omitempty"`
	Data      json.RawMessage `json:"data"`
}

// Missing is a partner without an export in the package.
type Missing struct {
	PartnerID string              `json:"partnerId"`
	Name      string              `json:"name"`
	Status    store.PartnerStatus `json:"status"`
}

// PageRenderer writes export.html from its view: exportpage.Render. It is
// passed in, not called from here, so that only export-assemble links the
// HTML template runtime (internal/dev/coldstart).
type PageRenderer func(PageView) ([]byte, error)

// errNoPage is returned when a package is rendered without a PageRenderer.
var errNoPage = errors.New("no export page renderer configured (exportpage.Render)")

// Render returns the package's export.json and export.html.
func Render(p Package, page PageRenderer) (jsonDoc, htmlDoc []byte, err error) {
	if page == nil {
		return nil, nil, fmt.Errorf("render export %s: %w", p.RequestID, errNoPage)
	}
	jsonDoc, err = json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, nil, fmt.Errorf("render export %s: %w", p.RequestID, err)
	}
	view := PageView{Package: p, L: labels[p.Locale]}
	if view.L.Title == "" {
		view.L = labels[dsr.DefaultLocale]
		view.Package.Locale = dsr.DefaultLocale
	}
	view.Generated = p.GeneratedAt.UTC().Format("2006-01-02 15:04 UTC")
	for _, part := range p.Partners {
		view.Sections = append(view.Sections, PageSection{Name: part.Name, Receipt: part.Receipt, Rows: flatten(part.Data)})
	}
	htmlDoc, err = page(view)
	if err != nil {
		return nil, nil, fmt.Errorf("render export %s: %w", p.RequestID, err)
	}
	return jsonDoc, htmlDoc, nil
}

// Zip packs the two documents.
func Zip(jsonDoc, htmlDoc []byte, at time.Time) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range []struct {
		name string
		body []byte
	}{{"export.json", jsonDoc}, {"export.html", htmlDoc}} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: at})
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(f.body); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Publish renders p (its page with page), zips it and stores it under
// PackageKey.
func (s *Store) Publish(ctx context.Context, p Package, page PageRenderer) (string, error) {
	j, h, err := Render(p, page)
	if err != nil {
		return "", err
	}
	z, err := Zip(j, h, p.GeneratedAt)
	if err != nil {
		return "", fmt.Errorf("zip export %s: %w", p.RequestID, err)
	}
	key := PackageKey(p.RequestID)
	return key, s.put(ctx, key, "application/zip", z)
}

// PageRow is one value of the data, with its path ("songs[0].title").
type PageRow struct{ Path, Value string }

// PageSection is one partner's data on the page.
type PageSection struct {
	Name, Receipt string
	Rows          []PageRow
}

// PageView is what export.html shows: the package, the labels in its
// language, the generation time, and each partner's data as rows.
type PageView struct {
	Package
	L         PageLabels
	Generated string
	Sections  []PageSection
}

// flatten lists a JSON value's leaves with their paths, objects' keys sorted.
func flatten(data json.RawMessage) []PageRow {
	var v any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return []PageRow{{Path: "", Value: string(data)}}
	}
	var rows []PageRow
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				p := k
				if path != "" {
					p = path + "." + k
				}
				walk(p, x[k])
			}
		case []any:
			for i, e := range x {
				walk(path+"["+strconv.Itoa(i)+"]", e)
			}
		case nil:
			rows = append(rows, PageRow{path, "—"})
		case string:
			rows = append(rows, PageRow{path, x})
		default:
			rows = append(rows, PageRow{path, fmt.Sprint(x)})
		}
	}
	walk("", v)
	return rows
}

// PageLabels are the page's fixed texts in one language.
type PageLabels struct {
	Title, Intro, Request, Generated, Partner, Receipt, Field, Value, Missing, NoData string
}

var labels = map[dsr.Locale]PageLabels{
	dsr.LocaleZhCN: {
		Title: "您的个人信息副本", Intro: "以下是我们及处理您个人信息的合作方所保存的您的个人信息（依据隐私政策第五条第1款）。同一压缩包中的 export.json 为机器可读格式，便于转移。",
		Request: "请求编号", Generated: "生成时间", Partner: "系统", Receipt: "回执编号", Field: "字段", Value: "内容",
		Missing: "以下系统的数据未能纳入本副本，我们会继续跟进：", NoData: "无数据",
	},
	dsr.LocaleEn: {
		Title: "A copy of your personal information", Intro: "This is the personal information we and the partners who process it for us hold about you (privacy policy, section 5.1). export.json in the same archive has it in a machine-readable form you can take elsewhere.",
		Request: "Request", Generated: "Generated", Partner: "System", Receipt: "Receipt", Field: "Field", Value: "Value",
		Missing: "Data from these systems could not be included; we are following up:", NoData: "No data",
	},
}

// Names gives a partner's display name in a locale.
type Names func(partnerID string, l dsr.Locale) string

// Assembler is the task handler that gathers a request's partner exports
// into its package once the fan-out is done.
type Assembler struct {
	Store   *store.Store
	Exports *Store
	Names   Names
	// Page writes export.html (exportpage.Render); without it Handle fails.
	Page PageRenderer
	// Now defaults to time.Now.
	Now func() time.Time
}

// Input is the assembler's task input.
type Input struct {
	RequestID string `json:"requestId"`
}

// Output says where the package is and what it holds; no link, no data.
type Output struct {
	Key      string `json:"key"`
	Partners int    `json:"partners"`
	Missing  int    `json:"missing"`
}

// Handle builds and stores the package of request in.RequestID.
func (a *Assembler) Handle(ctx context.Context, in Input) (Output, error) {
	if in.RequestID == "" {
		return Output{}, errors.New("assemble export: empty request ID")
	}
	req, err := a.Store.GetRequest(ctx, in.RequestID)
	if err != nil {
		return Output{}, fmt.Errorf("assemble export: %w", err)
	}
	tasks, err := a.Store.ListPartnerTasks(ctx, in.RequestID)
	if err != nil {
		return Output{}, fmt.Errorf("assemble export: %w", err)
	}
	loc, _ := dsr.ParseLocale(req.Locale)
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	p := Package{RequestID: req.ID, Kind: req.Kind, Locale: loc, GeneratedAt: now().UTC(), Partners: []Part{}}
	name := func(id string) string {
		if a.Names != nil {
			if n := a.Names(id, loc); n != "" {
				return n
			}
		}
		return id
	}
	for _, t := range tasks {
		if t.Action != "export" || t.Status == store.PartnerNoData {
			// A partner without data for this person has nothing to add
			// and nothing to follow up.
			continue
		}
		if t.Status != store.PartnerCompleted || t.ExportKey == "" {
			p.Missing = append(p.Missing, Missing{PartnerID: t.PartnerID, Name: name(t.PartnerID), Status: t.Status})
			continue
		}
		data, err := a.Exports.get(ctx, t.ExportKey)
		if err != nil {
			return Output{}, fmt.Errorf("assemble export %s: %w", req.ID, err)
		}
		p.Partners = append(p.Partners, Part{PartnerID: t.PartnerID, Name: name(t.PartnerID), Receipt: t.Receipt, Data: data})
	}
	key, err := a.Exports.Publish(ctx, p, a.Page)
	if err != nil {
		return Output{}, err
	}
	return Output{Key: key, Partners: len(p.Partners), Missing: len(p.Missing)}, nil
}
