package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testTemplate = `
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: provided.al2023
Resources:
  WebFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: makefile
      Main: ./functions/web
    Properties:
      CodeUri: .
      Environment:
        Variables:
          PARTNERS_CONFIG: partners.json
          TABLE_NAME: !Ref Table
  MailFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: makefile
      Main: ./functions/mail
    Properties:
      CodeUri: .
  Table:
    Type: AWS::DynamoDB::Table
`

func TestRun(t *testing.T) {
	dir := t.TempDir()
	tpl := filepath.Join(dir, "template.yaml")
	if err := os.WriteFile(tpl, []byte(testTemplate), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args    []string
		want    string
		wantErr string
	}{
		{[]string{"list"}, "MailFunction ./functions/mail\nWebFunction ./functions/web\n", ""},
		{[]string{"main", "WebFunction"}, "./functions/web\n", ""},
		{[]string{"main", "web"}, "./functions/web\n", ""},
		{[]string{"env", "WebFunction", "PARTNERS_CONFIG"}, "partners.json\n", ""},
		{[]string{"env", "MailFunction", "PARTNERS_CONFIG"}, "", ""},
		{[]string{"env", "WebFunction", "TABLE_NAME"}, "", ""}, // not a literal
		{[]string{"main", "NoFunction"}, "", `no function "NoFunction"`},
		{[]string{"main"}, "", "usage"},
		{nil, "", "usage"},
	}
	for _, tc := range tests {
		var out strings.Builder
		err := run(append([]string{"-t", tpl}, tc.args...), &out)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v: error %v, want %q", tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil || out.String() != tc.want {
			t.Errorf("%v = %q, %v; want %q", tc.args, out.String(), err, tc.want)
		}
	}

	var out strings.Builder
	build := filepath.Join(dir, ".aws-sam", "build")
	if err := run([]string{"-t", tpl, "template", build}, &out); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(build, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CodeUri: WebFunction", "CodeUri: MailFunction", "TABLE_NAME: !Ref Table"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("built template has no %q:\n%s", want, b)
		}
	}
}
