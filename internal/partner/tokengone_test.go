package partner_test

import (
	"errors"
	"fmt"
	"testing"

	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"dsrflow/internal/partner"
)

func TestTokenGone(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"timed out", &sfntypes.TaskTimedOut{}, true},
		{"does not exist", &sfntypes.TaskDoesNotExist{}, true},
		{"invalid token", &sfntypes.InvalidToken{}, true},
		{"wrapped", fmt.Errorf("send: %w", &sfntypes.TaskDoesNotExist{}), true},
		{"invalid output", &sfntypes.InvalidOutput{}, false},
		{"other", errors.New("connection reset"), false},
	}
	for _, tt := range tests {
		if got := partner.TokenGone(tt.err); got != tt.want {
			t.Errorf("TokenGone(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
}
