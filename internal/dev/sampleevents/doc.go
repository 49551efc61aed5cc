// Package sampleevents holds the check of events/: every sample event
// belongs to a function of template.yaml, is in that function's input shape
// exactly (strict decoding, unknown fields refused) and runs through the
// function's real handler on the local stack. The functions' own tests go
// deeper on their events; this one makes sure none is left out.
package sampleevents
