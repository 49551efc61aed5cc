// Package proto is the small part of the protocol buffer runtime that this
// library uses, written out by hand so that the library does not link
// google.golang.org/protobuf (whose start-up work and reflection-based
// descriptor code cost binary size and cold-start time).
//
// The message types (PhoneNumber, NumberFormat, PhoneNumberDesc,
// PhoneMetadata, PhoneMetadataCollection) are plain Go structs defined in
// package phonenumbers, with the same fields and struct tags that
// protoc-gen-go generated for phonenumber.proto and phonemetadata.proto. The
// per-message code (wire decoding, merging, comparing) lives next to them, in
// their XXX_* methods; this package provides the API the library calls
// (Unmarshal, Merge, Equal, the pointer helpers), the wire-format primitives
// used by that code, the JSON decoding of enum names, and, driven by the
// struct tags, Marshal (used only by cmd/buildmetadata) and the text format
// behind the messages' String methods.
//
// Semantics follow google.golang.org/protobuf for proto2 messages, except that
// unknown fields are skipped rather than retained.
package proto

import (
	"errors"
	"strconv"
)

// String returns a pointer to a copy of v.
func String(v string) *string { return &v }

// Int32 returns a pointer to a copy of v.
func Int32(v int32) *int32 { return &v }

// Uint64 returns a pointer to a copy of v.
func Uint64(v uint64) *uint64 { return &v }

// Bool returns a pointer to a copy of v.
func Bool(v bool) *bool { return &v }

type merger[M any] interface {
	XXX_Merge(src M)
}

// Merge merges src into dst, with proto2 semantics: populated scalar fields
// of src overwrite those of dst, repeated fields of src are appended to
// those of dst, and populated message fields are merged recursively. A nil
// src is a no-op; a nil dst panics.
func Merge[M merger[M]](dst, src M) {
	dst.XXX_Merge(src)
}

type equaler[M any] interface {
	XXX_Equal(y M) bool
}

// Equal reports whether x and y are equal as proto.Equal does: the same
// fields are populated (a set optional field is not equal to an unset one,
// even if it holds the default value) with the same values, and repeated
// fields have equal elements (nil and empty are equal). Two nil messages
// are equal; a nil message is not equal to a non-nil one.
func Equal[M equaler[M]](x, y M) bool {
	return x.XXX_Equal(y)
}

// Unmarshaler is implemented by the messages that can be decoded from the
// wire format.
type Unmarshaler interface {
	// XXX_Unmarshal resets the message and decodes b into it.
	XXX_Unmarshal(b []byte) error
}

// Unmarshal parses the wire-format message in b and places the result in m,
// which is reset first. As with proto.Unmarshal, it is an error if a
// required field is missing; unknown fields are skipped.
func Unmarshal(b []byte, m Unmarshaler) error {
	return m.XXX_Unmarshal(b)
}

// MergeOptional merges the optional scalar field src into *dst: if src is
// set, *dst is set to a copy of its value.
func MergeOptional[T any](dst **T, src *T) {
	if src != nil {
		v := *src
		*dst = &v
	}
}

// EqualOptional reports whether two optional scalar fields are equal: both
// unset, or both set to the same value.
func EqualOptional[T comparable](x, y *T) bool {
	if x == nil || y == nil {
		return x == nil && y == nil
	}
	return *x == *y
}

// ErrInvalid is returned for input that is not valid wire-format data.
var ErrInvalid = errors.New("proto: cannot parse invalid wire-format data")

// RequiredNotSet returns the error reported when the required field
// fullName (e.g. "phonenumbers.PhoneMetadata.id") is not set.
func RequiredNotSet(fullName string) error {
	return errors.New("proto: required field " + fullName + " not set")
}

// ErrInvalidEnum is returned by UnmarshalJSONEnum for input that is neither
// a JSON number nor a JSON string naming a value of the enum.
var ErrInvalidEnum = errors.New("proto: invalid input for enum")

// UnmarshalJSONEnum decodes an enum value from JSON, as a number or as the
// name of a value, like the (deprecated) UnmarshalJSON methods of generated
// enums. The JSON decoder has already checked the syntax of b.
func UnmarshalJSONEnum(b []byte, values map[string]int32) (int32, error) {
	if len(b) > 0 && b[0] == '"' {
		name, err := strconv.Unquote(string(b))
		if err != nil {
			return 0, ErrInvalidEnum
		}
		v, ok := values[name]
		if !ok {
			return 0, ErrInvalidEnum
		}
		return v, nil
	}
	if string(b) == "null" {
		return 0, nil
	}
	v, err := strconv.ParseInt(string(b), 10, 32)
	if err != nil {
		return 0, ErrInvalidEnum
	}
	return int32(v), nil
}
