package dynamotest

import (
	"context"
	"errors"
	"net"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

var emu *Emulator

func TestMain(m *testing.M) { os.Exit(Main(m, &emu)) }

// The table the harness creates is the one template.yaml defines.
func TestNewTableMatchesTemplate(t *testing.T) {
	t.Parallel()
	name := emu.NewTable(t)
	ctx := context.Background()
	out, err := emu.Client().DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatalf("describe table: %v", err)
	}
	d := out.Table
	if d.TableStatus != types.TableStatusActive {
		t.Errorf("status = %s, want ACTIVE", d.TableStatus)
	}
	if got := keys(d.KeySchema); got != "PK HASH,SK RANGE" {
		t.Errorf("key schema = %s, want PK HASH,SK RANGE", got)
	}
	gsis := map[string]string{}
	for _, g := range d.GlobalSecondaryIndexes {
		gsis[*g.IndexName] = keys(g.KeySchema) + " " + string(g.Projection.ProjectionType)
	}
	want := map[string]string{
		"GSI1": "GSI1PK HASH,GSI1SK RANGE KEYS_ONLY",
		"GSI2": "GSI2PK HASH,GSI2SK RANGE KEYS_ONLY",
	}
	for k, w := range want {
		if gsis[k] != w {
			t.Errorf("index %s = %q, want %q", k, gsis[k], w)
		}
	}
	if len(gsis) != len(want) {
		t.Errorf("indexes = %v, want %v", gsis, want)
	}
	if d.BillingModeSummary == nil || d.BillingModeSummary.BillingMode != types.BillingModePayPerRequest {
		t.Errorf("billing mode = %+v, want PAY_PER_REQUEST", d.BillingModeSummary)
	}
	schema, err := emu.Schema()
	if err != nil {
		t.Fatal(err)
	}
	if attr, on := schema.TimeToLiveAttribute(); attr != "expiresAt" || !on {
		t.Errorf("time to live = %q %v, want expiresAt true", attr, on)
	}
}

// Two tests' tables do not share items.
func TestTablesAreSeparate(t *testing.T) {
	t.Parallel()
	a, b := emu.NewTable(t), emu.NewTable(t)
	if a == b {
		t.Fatalf("two tables named %s", a)
	}
	ctx := context.Background()
	c := emu.Client()
	_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(a), Item: map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: "x"}, "SK": &types.AttributeValueMemberS{Value: "y"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(b)})
	if err != nil {
		t.Fatal(err)
	}
	if out.Count != 0 {
		t.Errorf("table %s has %d items, want 0", b, out.Count)
	}
}

func TestStartWithoutDynalite(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	_, err := startIn(context.Background(), root)
	if err == nil || !strings.Contains(err.Error(), "make deps") {
		t.Fatalf("err = %v, want a message telling to run make deps", err)
	}
}

// Stop ends the emulator process: afterwards the process is gone and its port
// refuses connections.
func TestStopKillsProcess(t *testing.T) {
	t.Parallel()
	e, err := StartEmulator(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Stop)
	pid := e.cmd.Process.Pid
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("emulator process %d not running before Stop: %v", pid, err)
	}
	e.Stop()
	e.Stop() // twice is fine
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("signal 0 to process %d after Stop: %v, want ESRCH", pid, err)
	}
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(e.Endpoint, "http://"), time.Second)
	if err == nil {
		conn.Close()
		t.Errorf("port of %s still accepts connections after Stop", e.Endpoint)
	}
}

func keys(ks []types.KeySchemaElement) string {
	var out []string
	for _, k := range ks {
		out = append(out, *k.AttributeName+" "+string(k.KeyType))
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

// EditItems rewrites exactly the items matching every attribute given.
func TestEditItems(t *testing.T) {
	t.Parallel()
	name := emu.NewTable(t)
	ctx := context.Background()
	c := emu.Client()
	put := func(pk, sk, kind, seq string) {
		t.Helper()
		if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(name), Item: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: pk}, "SK": &types.AttributeValueMemberS{Value: sk},
			"type": &types.AttributeValueMemberS{Value: kind}, "seq": &types.AttributeValueMemberN{Value: seq},
		}}); err != nil {
			t.Fatal(err)
		}
	}
	put("a", "1", "created", "1")
	put("a", "2", "completed", "2")
	put("b", "1", "completed", "2")
	n, err := emu.EditItems(ctx, name, map[string]string{"PK": "a", "seq": "2"}, map[string]string{"type": "failed"})
	if err != nil || n != 1 {
		t.Fatalf("EditItems = %d, %v; want 1 item", n, err)
	}
	out, err := c.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range out.Items {
		got = append(got, it["PK"].(*types.AttributeValueMemberS).Value+it["SK"].(*types.AttributeValueMemberS).Value+"="+it["type"].(*types.AttributeValueMemberS).Value)
	}
	slices.Sort(got)
	if want := []string{"a1=created", "a2=failed", "b1=completed"}; !slices.Equal(got, want) {
		t.Errorf("items %v, want %v", got, want)
	}
	if _, err := emu.EditItems(ctx, name, nil, map[string]string{"type": "x"}); err == nil {
		t.Errorf("EditItems without a match rewrote the table")
	}
}

// DeleteItems deletes exactly the items matching every attribute given.
func TestDeleteItems(t *testing.T) {
	t.Parallel()
	name := emu.NewTable(t)
	ctx := context.Background()
	c := emu.Client()
	for _, it := range [][3]string{{"a", "1", "1"}, {"a", "2", "2"}, {"a", "3", "3"}, {"b", "1", "2"}} {
		if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(name), Item: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: it[0]}, "SK": &types.AttributeValueMemberS{Value: it[1]},
			"seq": &types.AttributeValueMemberN{Value: it[2]},
		}}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := emu.DeleteItems(ctx, name, map[string]string{"PK": "a", "seq": "2"})
	if err != nil || n != 1 {
		t.Fatalf("DeleteItems = %d, %v; want 1 item", n, err)
	}
	out, err := c.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range out.Items {
		got = append(got, it["PK"].(*types.AttributeValueMemberS).Value+it["SK"].(*types.AttributeValueMemberS).Value)
	}
	slices.Sort(got)
	if want := []string{"a1", "a3", "b1"}; !slices.Equal(got, want) {
		t.Errorf("items %v, want %v", got, want)
	}
	if _, err := emu.DeleteItems(ctx, name, nil); err == nil {
		t.Errorf("DeleteItems without a match emptied the table")
	}
}

// A client that closes its connection halfway through a request body (a
// cancelled context) must not take the emulator down: dynalite rethrows
// the request's error, and abortguard.cjs keeps it serving.
func TestEmulatorSurvivesAbortedRequests(t *testing.T) {
	ctx := context.Background()
	own, err := StartEmulator(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(own.Stop)
	addr := strings.TrimPrefix(own.Endpoint, "http://")
	for range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Write([]byte("POST / HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/x-amz-json-1.0\r\n" +
			"X-Amz-Target: DynamoDB_20120810.ListTables\r\nContent-Length: 1000\r\n\r\n{\"Limit\":"))
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond) // the body has started arriving
		c.Close()
	}
	time.Sleep(200 * time.Millisecond)
	select {
	case <-own.done:
		t.Fatalf("dynalite exited after an aborted request: %s", own.stderr.tail())
	default:
	}
	if _, err := own.Client().ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("after aborted requests: %v", err)
	}
}
