package store

import (
	"context"
	"os"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/dsr"
)

var emu *dynamotest.Emulator

func TestMain(m *testing.M) { os.Exit(dynamotest.Main(m, &emu)) }

// t0 is the test clock's start.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// clock ticks one second per reading.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

type fixture struct {
	st    *Store
	table string
	db    *dynamodb.Client
	clock *clock
}

// with returns a store over the fixture's table with cfg's limits and the
// fixture's clock, over db (the fixture's client when nil).
func (f *fixture) with(cfg Config, db DB) *Store {
	if db == nil {
		db = f.db
	}
	cfg.Table = f.table
	return New(cfg, Deps{DB: db, Clock: f.clock.Now})
}

// newFixture returns a store over a fresh table, with a ticking clock.
func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	table := emu.NewTable(tb)
	c := &clock{t: t0}
	st := New(Config{Table: table}, Deps{DB: emu.Client(), Clock: c.Now})
	return &fixture{st: st, table: table, db: emu.Client(), clock: c}
}

func newRequest(id string, subjectKeys ...string) *dsr.Request {
	return &dsr.Request{
		ID:          id,
		Kind:        dsr.KindErasure,
		Status:      dsr.StatusReceived,
		Channel:     dsr.ChannelWeb,
		Role:        dsr.RoleSelf,
		Locale:      "zh-CN",
		SubjectKeys: subjectKeys,
	}
}

func (f *fixture) create(tb testing.TB, r *dsr.Request) *dsr.Request {
	tb.Helper()
	got, dup, err := f.st.CreateRequest(context.Background(), r, &dsr.Personal{Contact: dsr.Contact{Email: "person@example.com"}})
	if err != nil || dup {
		tb.Fatalf("CreateRequest(%s) = dup %v, err %v; want a new request", r.ID, dup, err)
	}
	return got
}

// rawItem reads an item as stored.
func (f *fixture) rawItem(tb testing.TB, pk, sk string) map[string]types.AttributeValue {
	tb.Helper()
	key, err := keyOf(pk, sk)
	if err != nil {
		tb.Fatal(err)
	}
	out, err := f.db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(f.table), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		tb.Fatalf("get %s %s: %v", pk, sk, err)
	}
	return out.Item
}

func (f *fixture) putRaw(tb testing.TB, item map[string]types.AttributeValue) {
	tb.Helper()
	if _, err := f.db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(f.table), Item: item}); err != nil {
		tb.Fatalf("put: %v", err)
	}
}

func (f *fixture) deleteRaw(tb testing.TB, pk, sk string) {
	tb.Helper()
	key, err := keyOf(pk, sk)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := f.db.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: aws.String(f.table), Key: key}); err != nil {
		tb.Fatalf("delete %s %s: %v", pk, sk, err)
	}
}

// same reports whether two requests store the same attributes.
func same(tb testing.TB, a, b *dsr.Request) bool {
	tb.Helper()
	ma, err := attributevalue.MarshalMap(a)
	if err != nil {
		tb.Fatal(err)
	}
	mb, err := attributevalue.MarshalMap(b)
	if err != nil {
		tb.Fatal(err)
	}
	return reflect.DeepEqual(ma, mb)
}
