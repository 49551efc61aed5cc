package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
)

func TestAddDocumentLimited(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	f.create(t, newRequest("r1"))
	// A mail attachment does not count against the upload limit.
	if _, err := f.st.AddDocument(ctx, "r1", Document{Bucket: "b", Key: "attachments/m", Source: "mail"}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		d, err := f.st.AddDocumentLimited(ctx, "r1", Document{Bucket: "b", Key: fmt.Sprintf("up/%d", i), ContentType: "application/pdf", Size: 10, Source: "upload"}, 3)
		if err != nil || d.Seq != i+1 || d.AddedAt.IsZero() {
			t.Fatalf("upload %d = %+v, %v; want seq %d", i, d, err, i+1)
		}
	}
	if _, err := f.st.AddDocumentLimited(ctx, "r1", Document{Bucket: "b", Key: "up/4", Source: "upload"}, 3); !errors.Is(err, ErrDocumentLimit) {
		t.Errorf("fourth upload over a limit of 3: %v, want ErrDocumentLimit", err)
	}
	// The same object again is the first record, even at the limit.
	if d, err := f.st.AddDocumentLimited(ctx, "r1", Document{Bucket: "b", Key: "up/2", Source: "upload"}, 3); err != nil || d.Seq != 3 {
		t.Errorf("same object again = %+v, %v; want seq 3", d, err)
	}
	// Another source is counted apart.
	if _, err := f.st.AddDocumentLimited(ctx, "r1", Document{Bucket: "b", Key: "attachments/n", Source: "mail"}, 3); err != nil {
		t.Errorf("a mail document at the upload limit: %v", err)
	}
	docs, err := f.st.ListDocuments(ctx, "r1")
	if err != nil || len(docs) != 5 {
		t.Fatalf("documents = %d, %v; want 5", len(docs), err)
	}
	if r, _ := f.st.GetRequest(ctx, "r1"); r.Documents != 5 {
		t.Errorf("request counts %d documents, want 5", r.Documents)
	}
}

// TestAddDocumentLimitedConcurrent: uploads confirmed at the same time
// cannot pass the limit together.
func TestAddDocumentLimitedConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	f.create(t, newRequest("r1"))
	const tries, limit = 12, 5
	var wg sync.WaitGroup
	errs := make([]error, tries)
	for i := range tries {
		wg.Go(func() {
			_, errs[i] = f.st.AddDocumentLimited(ctx, "r1", Document{Bucket: "b", Key: fmt.Sprintf("up/%d", i), Source: "upload"}, limit)
		})
	}
	wg.Wait()
	ok, over := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrDocumentLimit):
			over++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	docs, _ := f.st.ListDocuments(ctx, "r1")
	if ok != limit || over != tries-limit || len(docs) != limit {
		t.Errorf("%d added, %d refused, %d stored; want %d, %d, %d", ok, over, len(docs), limit, tries-limit, limit)
	}
	for i, d := range docs {
		if d.Seq != i+1 {
			t.Errorf("document %d has number %d: numbers must be dense", i, d.Seq)
		}
	}
}
