// Package principal tells who an operator is: the IAM principal of the AWS
// credentials the console or the dsr command line runs with (STS
// GetCallerIdentity), recorded as the actor of every action in the audit
// chain. IAM decides what the operator may do; nothing here trusts a name
// the operator types.
//
// The local stack has no IAM: against local endpoints (every AWS endpoint
// on a loopback address) the principal is the configured local one
// (DSR_LOCAL_PRINCIPAL, written to .local/env by `make run`). Against AWS
// that variable is ignored.
package principal

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// LocalVariable names the local stack's principal.
const LocalVariable = "DSR_LOCAL_PRINCIPAL"

// Caller is the part of the STS client Resolve uses.
type Caller interface {
	GetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, optFns ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

// Principal is an operator's identity.
type Principal struct {
	// ARN is the caller's ARN (arn:aws:sts::123456789012:assumed-role/Ops/li.na),
	// or "local:<name>" on the local stack.
	ARN string
	// Account is the AWS account ID ("" locally).
	Account string
}

// Actor is the principal as an audit actor: "operator:<ARN>".
func (p Principal) Actor() string { return "operator:" + p.ARN }

// ErrNoPrincipal: the caller's identity could not be established.
var ErrNoPrincipal = errors.New("the operator's identity could not be established")

// Resolve returns the principal of awsCfg's credentials: STS
// GetCallerIdentity, or the local principal when every endpoint is local.
func Resolve(ctx context.Context, awsCfg aws.Config, c Caller) (Principal, error) {
	if name := os.Getenv(LocalVariable); name != "" && Local() {
		return Principal{ARN: "local:" + name}, nil
	}
	if c == nil {
		c = sts.NewFromConfig(awsCfg)
	}
	out, err := c.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return Principal{}, fmt.Errorf("%w: sts GetCallerIdentity: %w", ErrNoPrincipal, err)
	}
	if aws.ToString(out.Arn) == "" {
		return Principal{}, ErrNoPrincipal
	}
	return Principal{ARN: aws.ToString(out.Arn), Account: aws.ToString(out.Account)}, nil
}

// Local reports whether the AWS endpoints in the environment are all on a
// loopback address (the local stack): AWS_ENDPOINT_URL and the
// AWS_ENDPOINT_URL_<SERVICE> variables the operator tools use.
func Local() bool {
	found := false
	for _, name := range []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SFN", "AWS_ENDPOINT_URL_S3"} {
		v := os.Getenv(name)
		if v == "" {
			continue
		}
		found = true
		u, err := url.Parse(v)
		if err != nil {
			return false
		}
		host := u.Hostname()
		if strings.EqualFold(host, "localhost") {
			continue
		}
		ip := net.ParseIP(host)
		if ip == nil || !ip.IsLoopback() {
			return false
		}
	}
	return found
}
