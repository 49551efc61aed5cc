package devstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/jhillyerd/enmime"

	"dsrflow/internal/dsr"
	"dsrflow/internal/operator"
	"dsrflow/internal/reconcile"
	"dsrflow/internal/verification"
)

// LoadOptions shape a load and fault run.
type LoadOptions struct {
	// Requests is how many distinct requests to send (mixed kinds; every
	// third by mail).
	Requests int
	// Concurrency bounds the submissions in flight (default 8).
	Concurrency int
	// Timeout bounds the whole run (default 3 minutes).
	Timeout time.Duration
}

// LoadReport is what a load run measured.
type LoadReport struct {
	Requests int `json:"requests"`
	Web      int `json:"web"`
	Mail     int `json:"mail"`
	// Manual: requests from guardians, verified by an operator (the run
	// approves every other one and refuses the rest).
	Manual    int `json:"manual"`
	Completed int `json:"completed"`
	Refused   int `json:"refused"`
	Escalated int `json:"escalated"`
	// Other counts requests that ended otherwise (expired, duplicate).
	Other map[string]int `json:"other,omitempty"`
	// Lost: sent and accepted, but missing from the table or not finished
	// by the deadline. Must be 0.
	Lost    int      `json:"lost"`
	LostIDs []string `json:"lostIds,omitempty"`
	// LostWhy says, for each lost request, its status and its latest
	// execution's.
	LostWhy    map[string]string `json:"lostWhy,omitempty"`
	Duplicated int               `json:"duplicated"`
	// Injected faults.
	DuplicateSubmits  int           `json:"duplicateSubmits"`
	DuplicateMails    int           `json:"duplicateMailDeliveries"`
	HandlerCrashes    int           `json:"handlerCrashes"`
	PartnerCalls      int           `json:"partnerCalls"`
	PartnerFailRate   float64       `json:"partnerFailureRate"`
	Restarts          int           `json:"executionRestarts"`
	TransitionsPerReq float64       `json:"transitionsPerRequest"`
	Wall              time.Duration `json:"wallNanos"`
}

// WriteText prints the report for people.
func (r LoadReport) WriteText(w io.Writer) {
	fmt.Fprintf(w, "requests    %d (%d web, %d mail; %d verified by an operator)\n", r.Requests, r.Web, r.Mail, r.Manual)
	fmt.Fprintf(w, "completed   %d\nrefused     %d\nescalated   %d\n", r.Completed, r.Refused, r.Escalated)
	keys := make([]string, 0, len(r.Other))
	for k := range r.Other {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "%-11s %d\n", k, r.Other[k])
	}
	fmt.Fprintf(w, "lost        %d\nduplicated  %d\n", r.Lost, r.Duplicated)
	fmt.Fprintf(w, "faults      %d duplicate submits, %d duplicate mail deliveries, %d handler crash(es), partner failure rate %g over %d partner calls\n",
		r.DuplicateSubmits, r.DuplicateMails, r.HandlerCrashes, r.PartnerFailRate, r.PartnerCalls)
	fmt.Fprintf(w, "restarts    %d executions restarted by the reconciler\n", r.Restarts)
	fmt.Fprintf(w, "transitions %.1f states entered per request\n", r.TransitionsPerReq)
	fmt.Fprintf(w, "wall time   %s\n", r.Wall.Round(time.Millisecond))
}

// Crasher fails one invocation of one task function the way a crashed
// Lambda runtime does (errorType Runtime.ExitError). Pass Wrap as
// Options.WrapHandler; Crashes counts the crashes injected.
type Crasher struct {
	// Function is the task function to crash (default "admit"); After is
	// how many of its invocations succeed before the crash.
	Function string
	After    int
	calls    atomic.Int64
	crashes  atomic.Int64
}

// Wrap wraps the handler of function name.
func (c *Crasher) Wrap(name string, h lambda.Handler) lambda.Handler {
	fn := c.Function
	if fn == "" {
		fn = "admit"
	}
	if name != fn {
		return h
	}
	return handlerFunc(func(ctx context.Context, payload []byte) ([]byte, error) {
		if c.calls.Add(1) == int64(c.After)+1 {
			c.crashes.Add(1)
			return nil, messages.InvokeResponse_Error{Type: "Runtime.ExitError", Message: "Runtime exited with error: exit status 2 (injected crash)"}
		}
		return h.Invoke(ctx, payload)
	})
}

// Crashes is how many crashes were injected.
func (c *Crasher) Crashes() int { return int(c.crashes.Load()) }

var loadKinds = []dsr.Kind{dsr.KindErasure, dsr.KindAccess, dsr.KindCorrection, dsr.KindConsentWithdrawal, dsr.KindPortability, dsr.KindAccountClosure}

// Load pushes o.Requests requests through the running stack, injecting
// duplicate form submits (every 5th web request is posted twice at once)
// and duplicate mail deliveries (every 4th mail is delivered twice), enters
// every verification code from the outbox, and waits until every request
// has finished. Partner failures and the handler crash are configured on
// the stack (PartnerOptions.FailureRate, Options.WrapHandler with a Crasher).
func Load(ctx context.Context, st *Stack, o LoadOptions, crasher *Crasher) (LoadReport, error) {
	if o.Requests < 1 {
		return LoadReport{}, errors.New("load: at least one request")
	}
	if o.Concurrency < 1 {
		o.Concurrency = 8
	}
	if o.Timeout == 0 {
		o.Timeout = 3 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	begin := time.Now()
	rep := LoadReport{Requests: o.Requests, PartnerFailRate: st.opts.Partners.FailureRate}
	run := fmt.Sprintf("%x", begin.UnixNano())

	codes := newCodeWatcher(st.Outbox)
	go codes.run(ctx)

	var (
		mu   sync.Mutex
		ids  = map[string]bool{} // requests known to exist
		errs []error
		sem  = make(chan struct{}, o.Concurrency)
		wg   sync.WaitGroup
	)
	record := func(id string, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, err)
			return
		}
		if id != "" {
			ids[id] = true
		}
	}
	for i := range o.Requests {
		// Every third request comes by mail (an erasure or an access
		// request); the others cycle through every kind.
		kind := loadKinds[rep.Web%len(loadKinds)]
		mail := i%3 == 2
		if mail {
			kind = []dsr.Kind{dsr.KindErasure, dsr.KindAccess}[(i/3)%2]
		}
		if mail {
			rep.Mail++
		} else {
			rep.Web++
		}
		twice := (mail && rep.Mail%4 == 0) || (!mail && rep.Web%5 == 0)
		// Every 8th web request comes from a guardian: verified by an
		// operator, who approves every other one and refuses the rest.
		guardian := !mail && rep.Web%8 == 0
		if guardian {
			rep.Manual++
		}
		if twice && mail {
			rep.DuplicateMails++
		} else if twice {
			rep.DuplicateSubmits++
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			copies := 1
			if twice {
				copies = 2
			}
			var inner sync.WaitGroup
			for range copies {
				inner.Add(1)
				go func() {
					defer inner.Done()
					if mail {
						_, err := st.DeliverMail(ctx, loadMail(run, i, kind))
						record("", err)
						return
					}
					id, err := postLoadRequest(ctx, st.HTTPURL, run, i, kind, guardian)
					record(id, err)
				}()
			}
			inner.Wait()
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return rep, fmt.Errorf("load: %d submissions failed: %w", len(errs), errors.Join(errs...))
	}

	// Verify every request whose code arrives, until every request has finished.
	verified := map[string]bool{}
	decided := 0
	secret := st.statusSecret
	var reqs []dsr.Request
	for {
		var err error
		reqs, err = scanRequests(ctx, st)
		if err != nil && ctx.Err() != nil {
			break
		}
		if err != nil {
			return rep, err
		}
		open := 0
		for _, r := range reqs {
			if !finished(r.Status) {
				open++
			}
			if finished(r.Status) {
				continue
			}
			// An operator wait: verification of a guardian (approve every
			// other one, refuse the rest), or review (approve).
			if waited, err := decideWaits(ctx, st, r.ID, &decided); err != nil || waited {
				continue
			}
			if r.Status != dsr.StatusAwaitingVerification || verified[r.ID] {
				continue
			}
			code, ok := codes.latest(r.ID)
			if !ok {
				continue
			}
			res, err := st.Workflow.Verification().SubmitCode(ctx, r.ID, verification.StatusToken(secret, r.ID), code)
			if err == nil && res.Outcome == verification.OutcomeVerified {
				verified[r.ID] = true
			}
		}
		if open == 0 && len(reqs) >= rep.Web+rep.Mail {
			break
		}
		if ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	rep.Wall = time.Since(begin)
	// The final count, even when the deadline has passed.
	final, cancelFinal := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancelFinal()
	ctx = final
	reqs, err := scanRequests(ctx, st)
	if err != nil {
		return rep, err
	}

	// Count.
	perChannel := map[dsr.Channel]int{}
	rep.Other = map[string]int{}
	for _, r := range reqs {
		perChannel[r.Channel]++
		switch r.Status {
		case dsr.StatusCompleted:
			rep.Completed++
		case dsr.StatusRefused:
			rep.Refused++
		case dsr.StatusEscalated:
			rep.Escalated++
		default:
			if finished(r.Status) {
				rep.Other[string(r.Status)]++
			} else {
				rep.Lost++
				rep.LostIDs = append(rep.LostIDs, r.ID)
			}
		}
	}
	for id := range ids {
		if !containsID(reqs, id) {
			rep.Lost++
			rep.LostIDs = append(rep.LostIDs, id)
		}
	}
	for ch, want := range map[dsr.Channel]int{dsr.ChannelWeb: rep.Web, dsr.ChannelMail: rep.Mail} {
		switch got := perChannel[ch]; {
		case got > want:
			rep.Duplicated += got - want
		case got < want:
			rep.Lost += want - got
		}
	}
	if len(rep.LostIDs) > 0 {
		rep.LostWhy = map[string]string{}
		for _, id := range rep.LostIDs {
			rep.LostWhy[id] = lostWhy(ctx, st, reqs, id)
		}
	}
	transitions, restarts, err := executionStats(ctx, st, reqs)
	if err != nil {
		return rep, err
	}
	if len(reqs) > 0 {
		rep.TransitionsPerReq = float64(transitions) / float64(len(reqs))
	}
	rep.Restarts = restarts
	if crasher != nil {
		rep.HandlerCrashes = crasher.Crashes()
	}
	for _, p := range st.Partners.Config.Partners {
		if sim := st.Partners.Sim(p.ID); sim != nil {
			rep.PartnerCalls += sim.Calls()
		}
	}
	return rep, nil
}

// decideWaits answers the request's open operator waits, if any, and
// reports whether it found one.
func decideWaits(ctx context.Context, st *Stack, id string, decided *int) (bool, error) {
	for _, stage := range []operator.Stage{operator.StageVerification, operator.StageIdentity, operator.StageReview} {
		w, err := st.Workflow.Operator().Get(ctx, id, stage)
		if err != nil {
			return false, err
		}
		if w == nil || w.Decided != nil || w.TaskToken == "" {
			continue
		}
		d := operator.Decision{RequestID: id, Stage: stage, Approve: true, Actor: "load", Note: "load run"}
		if stage == operator.StageVerification && *decided%2 == 1 {
			d.Approve, d.Reason, d.Note = false, dsr.RefusalAuthorityNotProven, ""
		}
		if err := st.Workflow.Operator().Decide(ctx, d); err != nil {
			return true, err
		}
		if stage == operator.StageVerification {
			*decided++
		}
		return true, nil
	}
	return false, nil
}

// lostWhy describes a lost request: its status and its latest execution's
// status, error and cause.
func lostWhy(ctx context.Context, st *Stack, reqs []dsr.Request, id string) string {
	status := "missing from the table"
	for _, r := range reqs {
		if r.ID == id {
			status = "status " + string(r.Status)
		}
	}
	last := ""
	for n := 0; ; n++ {
		out, err := st.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(reconcile.ExecutionArn(st.StateMachineArn, reconcile.ExecutionName(id, n)))})
		if err != nil {
			break
		}
		last = fmt.Sprintf("; execution %s %s %s %s", aws.ToString(out.Name), out.Status, aws.ToString(out.Error), aws.ToString(out.Cause))
	}
	return status + last
}

// finished reports whether a request needs nothing more from the system.
func finished(s dsr.Status) bool { return s.Terminal() || s == dsr.StatusEscalated }

func containsID(reqs []dsr.Request, id string) bool {
	for _, r := range reqs {
		if r.ID == id {
			return true
		}
	}
	return false
}

func postLoadRequest(ctx context.Context, base, run string, i int, kind dsr.Kind, guardian bool) (string, error) {
	role := dsr.RoleSelf
	if guardian {
		role = dsr.RoleGuardian
	}
	sub := dsr.Submission{Kind: string(kind), Role: string(role), Email: fmt.Sprintf("load-%s-%d@example.com", run, i), Locale: "en"}
	if guardian {
		// A guardian names the child, whose identifiers the operator
		// vouches for when approving the guardian's authority.
		sub.SubjectName, sub.SubjectAccountID = "Load Child", fmt.Sprintf("child-%s-%d", run, i)
	}
	switch kind {
	case dsr.KindErasure:
		sub.ErasureGround = string(dsr.GroundStoppedUsing)
	case dsr.KindCorrection:
		sub.Corrections = []string{"nickname: new name"}
	case dsr.KindConsentWithdrawal:
		sub.Purposes = []string{dsr.PurposeAnalytics}
	case dsr.KindAccountClosure:
		sub.AccountID = fmt.Sprintf("acct-%s-%d", run, i)
	}
	body, err := json.Marshal(sub)
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/requests", strings.NewReader(string(body)))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Idempotency-Key", fmt.Sprintf("load-run-%s-request-%06d", run, i))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("request %d: %w", i, err)
	}
	defer resp.Body.Close()
	var out struct {
		RequestID string `json:"requestId"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusAccepted {
		return "", fmt.Errorf("request %d: HTTP %d", i, resp.StatusCode)
	}
	return out.RequestID, nil
}

// loadMail is a request by mail: an erasure in Chinese or an access
// request in English, from a sender of its own.
func loadMail(run string, i int, kind dsr.Kind) []byte {
	from := fmt.Sprintf("load-%s-%d@example.com", run, i)
	subject, body := "=?UTF-8?B?6K+35Yig6Zmk5oiR55qE5Liq5Lq65L+h5oGv?=", "你好：\r\n\r\n我已经不再使用你们的应用，请删除你们保存的我的全部个人信息。\r\n\r\n谢谢！\r\n"
	if kind == dsr.KindAccess {
		subject, body = "Subject access request", "Hello,\r\n\r\nUnder PIPL I would like a copy of my personal data that you hold.\r\n\r\nKind regards\r\n"
	}
	// As SES delivers it: its verdicts first (the sender's domain passes
	// DMARC), so that the mail may become a request.
	return fmt.Appendf(nil, "Authentication-Results: amazonses.com; spf=pass smtp.mailfrom=example.com; dkim=pass header.i=@example.com; dmarc=pass header.from=example.com\r\nFrom: <%s>\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <load-%s-%d@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s",
		from, MailFrom, subject, time.Now().UTC().Format(time.RFC1123Z), run, i, body)
}

func scanRequests(ctx context.Context, st *Stack) ([]dsr.Request, error) {
	expr, err := expression.NewBuilder().WithFilter(expression.Name("SK").Equal(expression.Value("REQUEST"))).Build()
	if err != nil {
		return nil, err
	}
	p := dynamodb.NewScanPaginator(st.DynamoDB, &dynamodb.ScanInput{
		TableName: aws.String(TableName), FilterExpression: expr.Filter(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(), ConsistentRead: aws.Bool(true),
	})
	var out []dsr.Request
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("scan requests: %w", err)
		}
		var rs []dsr.Request
		if err := attributevalue.UnmarshalListOfMaps(page.Items, &rs); err != nil {
			return nil, err
		}
		out = append(out, rs...)
	}
	return out, nil
}

// executionStats counts states entered over every execution of the
// requests, and the restarts (executions beyond the first).
func executionStats(ctx context.Context, st *Stack, reqs []dsr.Request) (transitions, restarts int, err error) {
	for _, r := range reqs {
		for n := 0; ; n++ {
			arn := reconcile.ExecutionArn(st.StateMachineArn, reconcile.ExecutionName(r.ID, n))
			p := sfn.NewGetExecutionHistoryPaginator(st.SFN, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn)})
			found := false
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				var missing *sfntypes.ExecutionDoesNotExist
				if errors.As(err, &missing) {
					break
				}
				if err != nil {
					return 0, 0, fmt.Errorf("history of %s: %w", r.ID, err)
				}
				found = true
				for _, ev := range page.Events {
					if ev.StateEnteredEventDetails != nil {
						transitions++
					}
				}
			}
			if !found {
				break
			}
			if n > 0 {
				restarts++
			}
		}
	}
	return transitions, restarts, nil
}

// codeWatcher reads verification codes from the outbox as they arrive.
type codeWatcher struct {
	dir   string
	mu    sync.Mutex
	seen  map[string]bool
	codes map[string]string // request ID → latest code
}

func newCodeWatcher(dir string) *codeWatcher {
	return &codeWatcher{dir: dir, seen: map[string]bool{}, codes: map[string]string{}}
}

var loadCodeRE = regexp.MustCompile(`(?:验证码：|this code: )(\d{6})`)

func (c *codeWatcher) run(ctx context.Context) {
	for {
		entries, _ := os.ReadDir(c.dir)
		names := make([]string, 0, len(entries))
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".eml") && !c.seen[e.Name()] {
				names = append(names, e.Name())
			}
		}
		sort.Strings(names) // outbox names sort in write order
		for _, n := range names {
			c.seen[n] = true
			f, err := os.Open(filepath.Join(c.dir, n))
			if err != nil {
				continue
			}
			env, err := enmime.ReadEnvelope(f)
			f.Close()
			if err != nil || env.GetHeader("X-Dsrflow-Template") != "verification_code" {
				continue
			}
			if m := loadCodeRE.FindStringSubmatch(env.Text); m != nil {
				c.mu.Lock()
				c.codes[env.GetHeader("X-Dsrflow-Request")] = m[1]
				c.mu.Unlock()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (c *codeWatcher) latest(id string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	code, ok := c.codes[id]
	return code, ok
}
