package cli

import (
	"bytes"

	"github.com/jhillyerd/enmime"

	"dsrflow/internal/verification"
)

func readEnvelope(b []byte) (string, error) {
	env, err := enmime.ReadEnvelope(bytes.NewReader(b))
	if err != nil {
		return "", err
	}
	return env.Text, nil
}

func verificationToken(secret []byte, id string) string { return verification.StatusToken(secret, id) }
