package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"dsrflow/internal/dev/oidcsim"
	"dsrflow/internal/dsr"
)

// newLocalTokenCmd is `dsr local token --account ID`: an ID token of the
// local stack's simulated app provider, as the app would send it.
func newLocalTokenCmd(s *streams) *cobra.Command {
	var account, dir, issuer string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "token --account ID [--ttl D]",
		Short: "print an ID token of the local stack's simulated app login, for POST /requests",
		Long: `token prints an OpenID Connect ID token for account ID, signed by the simulated
app provider of the running local stack (make run): send it as
"Authorization: Bearer <token>" with POST /requests and the request is verified
by the login, with no code. The accounts of config/local-people.json are known
to the simulated partners (10000001 to 10000004 and more).

The provider's issuer and key folder come from the stack's environment
($DSR_OIDC_ISSUER, $DSR_OIDC_DIR, written to .local/env), or --issuer and --dir.

  ACCOUNT=10000002
  TOKEN=$(go run ./cmd/dsr local token --account $ACCOUNT)
  curl -s http://127.0.0.1:8080/requests -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' -H 'Accept: application/json' \
    -H "Idempotency-Key: $(openssl rand -hex 16)" \
    -d '{"kind":"access","role":"self","email":"li.na@example.com","locale":"en"}'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := dsr.ParseAccountID(account); err != nil || account == "" {
				return usageErrorf("--account: an account ID (letters, digits, _ and -)")
			}
			if issuer == "" {
				issuer = os.Getenv("DSR_OIDC_ISSUER")
			}
			if dir == "" {
				dir = os.Getenv("DSR_OIDC_DIR")
			}
			if issuer == "" || dir == "" {
				return usageErrorf("no local stack: run make run and load .local/env (DSR_OIDC_ISSUER, DSR_OIDC_DIR), or pass --issuer and --dir")
			}
			if _, err := os.Stat(filepath.Join(dir, oidcsim.KeyFile)); err != nil {
				return failuref("no simulated provider key in %s: is the local stack running (make run)?", dir)
			}
			p, err := oidcsim.New(oidcsim.Config{Dir: dir, Issuer: issuer}, oidcsim.Deps{})
			if err != nil {
				return usageErrorf("%v", err)
			}
			tok, err := p.Mint(account, ttl)
			if err != nil {
				return usageErrorf("%v", err)
			}
			fmt.Fprintln(s.out, tok)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&account, "account", "", "the account the token names (its sub)")
	f.DurationVar(&ttl, "ttl", time.Hour, "how long the token is valid (at most "+oidcsim.MaxTTL.String()+")")
	f.StringVar(&issuer, "issuer", "", "the provider's issuer URL (default $DSR_OIDC_ISSUER)")
	f.StringVar(&dir, "dir", "", "the provider's key folder (default $DSR_OIDC_DIR)")
	_ = cmd.MarkFlagRequired("account")
	return cmd
}
