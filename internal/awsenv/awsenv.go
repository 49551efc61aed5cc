// Package awsenv builds the AWS SDK configuration of a Lambda function from
// its environment alone, as config.LoadDefaultConfig would.
//
// config.LoadDefaultConfig links the SSO, SSO-OIDC, STS and sign-in clients
// and the shared-config file parser, whose package initialisation is a large
// share of a function's cold start (internal/dev/coldstart). A function in
// Lambda needs none of them: the runtime hands the execution role's
// credentials and the region to the process as environment variables.
//
// Load reads the variables below with the SDK's own rules (precedence,
// aliases, defaults); awsenv_test.go checks, over a table of environments,
// that it resolves the same region, credentials, endpoints and retry
// settings as config.LoadDefaultConfig:
//
//   - AWS_REGION, else AWS_DEFAULT_REGION;
//   - AWS_ACCESS_KEY_ID (or AWS_ACCESS_KEY) with AWS_SECRET_ACCESS_KEY (or
//     AWS_SECRET_KEY), AWS_SESSION_TOKEN and AWS_ACCOUNT_ID; else a container
//     credentials endpoint: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, else
//     AWS_CONTAINER_CREDENTIALS_FULL_URI, with AWS_CONTAINER_AUTHORIZATION_TOKEN
//     or AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (read on each refresh);
//   - AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE> and
//     AWS_IGNORE_CONFIGURED_ENDPOINT_URLS;
//   - AWS_MAX_ATTEMPTS and AWS_RETRY_MODE;
//   - AWS_CA_BUNDLE, a PEM file of the certificate authorities to trust
//     (instead of the system's).
//
// What it does not read, and LoadDefaultConfig does: shared config and
// credentials files and AWS_PROFILE (a Lambda function has none), web
// identity and SSO, IMDS (Lambda has no instance metadata: without keys or a
// container endpoint both fail at the first signed call), and the settings
// Lambda never sets (FIPS and dual-stack endpoints, checksum, compression,
// defaults mode, app ID, account-ID endpoint mode, S3 options). The dsr CLI,
// run by people on their own machines, keeps the SDK's full default chain.
//
// One difference is deliberate: a CA bundle without a PEM certificate is an
// error of Load here, where the SDK loads and then fails every TLS call.
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
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/aws/smithy-go/logging"
)

// ecsHost is the address of the ECS task metadata endpoint that
// AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is relative to.
const ecsHost = "http://169.254.170.2"

// envCredentialsSource is the Source of credentials read from the
// environment, as the SDK names it (config.CredentialsSourceName).
const envCredentialsSource = "EnvConfigCredentials"

// containerExpiryWindow is how long before their expiry the SDK refreshes
// container credentials.
const containerExpiryWindow = 5 * time.Minute

// Load returns the configuration described by the process environment.
func Load(ctx context.Context) (aws.Config, error) {
	src := envSource{}
	cfg := aws.Config{
		Logger:        logging.NewStandardLogger(os.Stderr),
		ConfigSources: []any{src},
		Region:        firstSet("AWS_REGION", "AWS_DEFAULT_REGION"),
	}
	ignore, _, err := src.GetIgnoreConfiguredEndpoints(ctx)
	if err != nil {
		return aws.Config{}, err
	}
	if v := os.Getenv("AWS_ENDPOINT_URL"); v != "" && !ignore {
		cfg.BaseEndpoint = aws.String(v)
	}
	if v := os.Getenv("AWS_MAX_ATTEMPTS"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return aws.Config{}, errors.New("AWS_MAX_ATTEMPTS: want a whole number")
		}
		cfg.RetryMaxAttempts = int(n)
	}
	if v := os.Getenv("AWS_RETRY_MODE"); v != "" {
		m, err := aws.ParseRetryMode(v)
		if err != nil {
			return aws.Config{}, errors.New("AWS_RETRY_MODE: want standard or adaptive")
		}
		cfg.RetryMode = m
	}
	if v := os.Getenv("AWS_CA_BUNDLE"); v != "" {
		pem, err := os.ReadFile(v)
		if err != nil {
			return aws.Config{}, fmt.Errorf("AWS_CA_BUNDLE: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return aws.Config{}, errors.New("AWS_CA_BUNDLE: no PEM certificate in the file")
		}
		cfg.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			if tr.TLSClientConfig == nil { // the SDK's transport has one (TLS 1.2 at least)
				tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
			}
			tr.TLSClientConfig.RootCAs = pool
		})
	}
	creds, err := credentialsFrom(ctx)
	if err != nil {
		return aws.Config{}, err
	}
	cfg.Credentials = creds
	return cfg, nil
}

// firstSet is the value of the first of keys that is set and not empty.
func firstSet(keys ...string) string {
	for _, k := range keys {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return ""
}

// credentialsFrom picks the environment's credentials as the SDK's default
// chain does: keys, then a container credentials endpoint.
func credentialsFrom(ctx context.Context) (aws.CredentialsProvider, error) {
	keys := aws.Credentials{
		AccessKeyID:     firstSet("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY"),
		SecretAccessKey: firstSet("AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY"),
		Source:          envCredentialsSource,
	}
	if keys.HasKeys() {
		keys.SessionToken = os.Getenv("AWS_SESSION_TOKEN")
		keys.AccountID = os.Getenv("AWS_ACCOUNT_ID")
		return aws.NewCredentialsCache(credentials.StaticCredentialsProvider{Value: keys}), nil
	}
	var endpoint string
	if rel := os.Getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"); rel != "" {
		endpoint = ecsHost + rel
	} else if full := os.Getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI"); full != "" {
		if err := checkCredentialsEndpoint(ctx, full); err != nil {
			return nil, err
		}
		endpoint = full
	} else {
		// As in Lambda with the SDK's chain (where IMDS is not there), a
		// call that needs signing fails, not the configuration.
		return aws.NewCredentialsCache(noCredentials{}), nil
	}
	token, tokenFile := os.Getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN"), os.Getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
	provider := endpointcreds.New(endpoint, func(o *endpointcreds.Options) {
		if token != "" {
			o.AuthorizationToken = token
		}
		if tokenFile != "" {
			o.AuthorizationTokenProvider = tokenFromFile(tokenFile)
		}
	})
	return aws.NewCredentialsCache(provider, func(o *aws.CredentialsCacheOptions) {
		o.ExpiryWindow = containerExpiryWindow
	}), nil
}

// checkCredentialsEndpoint allows what the SDK's default chain allows for a
// full URI: any https URL; plain http only to a host whose addresses are all
// loopback or the ECS and EKS credential addresses. The error does not quote
// the URI.
func checkCredentialsEndpoint(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return errors.New("AWS_CONTAINER_CREDENTIALS_FULL_URI is not an absolute URL")
	}
	if u.Scheme != "http" {
		return nil
	}
	host := u.Hostname()
	addrs := []string{host}
	if net.ParseIP(host) == nil {
		if addrs, err = net.DefaultResolver.LookupHost(ctx, host); err != nil {
			return errors.New("AWS_CONTAINER_CREDENTIALS_FULL_URI: its host does not resolve")
		}
	}
	for _, a := range addrs {
		if !credentialsAddress(net.ParseIP(a)) {
			return errors.New("AWS_CONTAINER_CREDENTIALS_FULL_URI: want https, or http to a loopback or container credentials address")
		}
	}
	return nil
}

var (
	ecsCredentialsIPv4 = net.IPv4(169, 254, 170, 2)
	eksCredentialsIPv4 = net.IPv4(169, 254, 170, 23)
	eksCredentialsIPv6 = net.ParseIP("fd00:ec2::23")
)

func credentialsAddress(ip net.IP) bool {
	return ip != nil && (ip.IsLoopback() || ip.Equal(ecsCredentialsIPv4) || ip.Equal(eksCredentialsIPv4) || ip.Equal(eksCredentialsIPv6))
}

// errNoCredentials is what a signed call returns without credentials.
var errNoCredentials = errors.New("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (Lambda does), or AWS_CONTAINER_CREDENTIALS_FULL_URI")

type noCredentials struct{}

func (noCredentials) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{}, errNoCredentials
}

// tokenFromFile reads the authorization token on each credentials refresh,
// since the file is rotated. Like the SDK, it sends the file as it is.
type tokenFromFile string

func (f tokenFromFile) GetToken() (string, error) {
	b, err := os.ReadFile(string(f))
	if err != nil {
		return "", fmt.Errorf("read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: %w", err)
	}
	return string(b), nil
}

// envSource answers the SDK clients' questions about configured endpoints
// (internal/configsources in the SDK) from the environment, as the SDK's
// config.EnvConfig does.
type envSource struct{}

// GetServiceBaseEndpoint returns AWS_ENDPOINT_URL_<SDK ID in capitals,
// spaces as _>.
func (envSource) GetServiceBaseEndpoint(_ context.Context, sdkID string) (string, bool, error) {
	v := os.Getenv("AWS_ENDPOINT_URL_" + strings.ReplaceAll(strings.ToUpper(sdkID), " ", "_"))
	return v, v != "", nil
}

// GetIgnoreConfiguredEndpoints reads AWS_IGNORE_CONFIGURED_ENDPOINT_URLS.
func (envSource) GetIgnoreConfiguredEndpoints(context.Context) (bool, bool, error) {
	switch v := os.Getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"); {
	case v == "":
		return false, false, nil
	case strings.EqualFold(v, "true"):
		return true, true, nil
	case strings.EqualFold(v, "false"):
		return false, true, nil
	default:
		return false, false, errors.New("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: want true or false")
	}
}
