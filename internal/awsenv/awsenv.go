// Package awsenv builds the AWS SDK configuration of a Lambda function from
// its environment alone.
//
// config.LoadDefaultConfig links the SSO, SSO-OIDC, STS and sign-in clients
// and the shared-config file parser, whose package initialisation is a fifth
// of a function's cold start (internal/dev/coldstart). A function in Lambda
// needs none of them: the runtime hands the execution role's credentials
// and the region to the process as environment variables. Load reads what
// Lambda, `make invoke`, the local stack and the cold-start benchmark set:
//
//   - AWS_REGION (or AWS_DEFAULT_REGION);
//   - AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, or else
//     a container credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI or
//     _RELATIVE_URI, with AWS_CONTAINER_AUTHORIZATION_TOKEN or _TOKEN_FILE);
//   - AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>;
//   - AWS_MAX_ATTEMPTS and AWS_RETRY_MODE;
//   - AWS_CA_BUNDLE, a PEM file of the certificate authorities to trust.
//
// Profiles, SSO, web identity and IMDS are not supported; the dsr CLI, run
// by people on their own machines, keeps the SDK's full default chain.
package awsenv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
)

// ecsHost is the address of the ECS task metadata endpoint that
// AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is relative to.
const ecsHost = "http://169.254.170.2"

// Load returns the configuration described by the process environment.
func Load(ctx context.Context) (aws.Config, error) {
	return FromLookup(os.LookupEnv)
}

// FromLookup is Load with the environment read through lookup.
func FromLookup(lookup func(string) (string, bool)) (aws.Config, error) {
	get := func(k string) string {
		v, _ := lookup(k)
		return strings.TrimSpace(v)
	}
	cfg := aws.Config{Region: get("AWS_REGION")}
	if cfg.Region == "" {
		cfg.Region = get("AWS_DEFAULT_REGION")
	}
	if cfg.Region == "" {
		return aws.Config{}, errors.New("AWS_REGION is not set")
	}
	creds, err := credentialsFrom(get)
	if err != nil {
		return aws.Config{}, err
	}
	cfg.Credentials = aws.NewCredentialsCache(creds)
	if v := get("AWS_ENDPOINT_URL"); v != "" {
		cfg.BaseEndpoint = aws.String(v)
	}
	// The service clients look up AWS_ENDPOINT_URL_<SERVICE> through the
	// configuration sources (internal/configsources in the SDK).
	cfg.ConfigSources = []any{serviceEndpoints(get)}
	if v := get("AWS_MAX_ATTEMPTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return aws.Config{}, errors.New("AWS_MAX_ATTEMPTS: want a whole number of at least 1")
		}
		cfg.RetryMaxAttempts = n
	}
	if v := get("AWS_RETRY_MODE"); v != "" {
		m, err := aws.ParseRetryMode(v)
		if err != nil {
			return aws.Config{}, errors.New("AWS_RETRY_MODE: want standard or adaptive")
		}
		cfg.RetryMode = m
	}
	if v := get("AWS_CA_BUNDLE"); v != "" {
		pem, err := os.ReadFile(v)
		if err != nil {
			return aws.Config{}, fmt.Errorf("AWS_CA_BUNDLE: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return aws.Config{}, errors.New("AWS_CA_BUNDLE: no PEM certificate in the file")
		}
		cfg.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			if tr.TLSClientConfig == nil {
				tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
			}
			tr.TLSClientConfig.RootCAs = pool
		})
	}
	return cfg, nil
}

// credentialsFrom picks the environment's credentials: keys first, as the
// SDK's default chain does, then a container credentials endpoint.
func credentialsFrom(get func(string) string) (aws.CredentialsProvider, error) {
	id, secret := get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY")
	switch {
	case id != "" && secret != "":
		return credentials.NewStaticCredentialsProvider(id, secret, get("AWS_SESSION_TOKEN")), nil
	case id != "" || secret != "":
		return nil, errors.New("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together")
	}
	endpoint := get("AWS_CONTAINER_CREDENTIALS_FULL_URI")
	if rel := get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"); rel != "" {
		endpoint = ecsHost + rel
	} else if endpoint != "" {
		if err := checkCredentialsEndpoint(endpoint); err != nil {
			return nil, err
		}
	}
	if endpoint == "" {
		// As in the SDK's chain, a call that needs signing fails, not the
		// configuration: a handler may serve requests without AWS calls.
		return noCredentials{}, nil
	}
	token, tokenFile := get("AWS_CONTAINER_AUTHORIZATION_TOKEN"), get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
	return endpointcreds.New(endpoint, func(o *endpointcreds.Options) {
		switch {
		case tokenFile != "":
			o.AuthorizationTokenProvider = tokenFromFile(tokenFile)
		case token != "":
			o.AuthorizationToken = token
		}
	}), nil
}

// checkCredentialsEndpoint allows what the SDK's default chain allows for a
// full URI: HTTPS anywhere, plain HTTP only to this machine or to the ECS
// and EKS credential addresses. The error does not quote the URI.
func checkCredentialsEndpoint(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errors.New("AWS_CONTAINER_CREDENTIALS_FULL_URI is not an absolute URL")
	}
	if u.Scheme == "https" {
		return nil
	}
	if u.Scheme == "http" {
		switch host := u.Hostname(); host {
		case "localhost", "169.254.170.2", "169.254.170.23", "fd00:ec2::23":
			return nil
		default:
			if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
				return nil
			}
		}
	}
	return errors.New("AWS_CONTAINER_CREDENTIALS_FULL_URI: want https, or http to a loopback or container credentials address")
}

// errNoCredentials is what a signed call returns without credentials.
var errNoCredentials = errors.New("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (Lambda does), or AWS_CONTAINER_CREDENTIALS_FULL_URI")

type noCredentials struct{}

func (noCredentials) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{}, errNoCredentials
}

// tokenFromFile reads the authorization token on each credentials refresh,
// since the file is rotated.
type tokenFromFile string

func (f tokenFromFile) GetToken() (string, error) {
	b, err := os.ReadFile(string(f))
	if err != nil {
		return "", fmt.Errorf("read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// serviceEndpoints answers the SDK clients' lookup of a service's own
// endpoint, AWS_ENDPOINT_URL_<SDK ID in capitals, spaces as _>.
type serviceEndpoints func(string) string

// GetServiceBaseEndpoint implements the SDK's ServiceBaseEndpointProvider.
func (get serviceEndpoints) GetServiceBaseEndpoint(_ context.Context, sdkID string) (string, bool, error) {
	v := get("AWS_ENDPOINT_URL_" + strings.ReplaceAll(strings.ToUpper(sdkID), " ", "_"))
	return v, v != "", nil
}
