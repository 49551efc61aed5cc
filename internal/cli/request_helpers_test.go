package cli

import (
	"bytes"
	"log/slog"

	"github.com/jhillyerd/enmime"

	"dsrflow/internal/dev/asl"
	api "dsrflow/internal/dev/sfnapi"
	"dsrflow/internal/verification"
)

func sfnapi(e *asl.Engine, logger *slog.Logger) *api.Server {
	return api.New(api.ASL(e), api.Options{Logger: logger})
}

func readEnvelope(b []byte) (string, error) {
	env, err := enmime.ReadEnvelope(bytes.NewReader(b))
	if err != nil {
		return "", err
	}
	return env.Text, nil
}

func verificationToken(secret []byte, id string) string { return verification.StatusToken(secret, id) }
