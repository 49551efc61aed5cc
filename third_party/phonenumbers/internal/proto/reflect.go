package proto

// Marshal and Format work on any message struct through its exported fields
// and their `protobuf:"..."` struct tags (as written by protoc-gen-go, e.g.
// `protobuf:"bytes,3,rep,name=leading_digits_pattern,json=..."`). Neither is
// on the path of parsing or formatting phone numbers: Marshal serves
// cmd/buildmetadata and Format the messages' String methods, so reflection is
// fine here.

import (
	"math"
	"math/bits"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// protoPackage is the proto package of the messages, for full field names.
const protoPackage = "phonenumbers"

type fieldInfo struct {
	index    int    // in the struct
	num      uint64 // field number
	name     string // proto (text format) name
	required bool
	packed   bool
}

// fieldsOf returns the proto fields of struct type t in declaration order.
func fieldsOf(t reflect.Type) []fieldInfo {
	var fs []fieldInfo
	for i := 0; i < t.NumField(); i++ {
		tag, ok := t.Field(i).Tag.Lookup("protobuf")
		if !ok {
			continue
		}
		f := fieldInfo{index: i}
		for j, part := range strings.Split(tag, ",") {
			switch {
			case j == 1:
				n, err := strconv.ParseUint(part, 10, 32)
				if err != nil {
					panic("proto: bad struct tag " + strconv.Quote(tag))
				}
				f.num = n
			case part == "req":
				f.required = true
			case part == "packed":
				f.packed = true
			case strings.HasPrefix(part, "name="):
				f.name = part[len("name="):]
			}
		}
		fs = append(fs, f)
	}
	return fs
}

// messageValue returns the struct a message pointer points to, and false
// for a nil pointer; it panics if m is not a pointer to a struct.
func messageValue(m any) (reflect.Value, bool) {
	v := reflect.ValueOf(m)
	if v.Kind() != reflect.Pointer || v.Type().Elem().Kind() != reflect.Struct {
		panic("proto: not a message: " + v.Type().String())
	}
	if v.IsNil() {
		return reflect.Value{}, false
	}
	return v.Elem(), true
}

// Marshal returns the wire-format encoding of m, a pointer to a message
// struct, as proto.Marshal does: fields in field number order, repeated
// scalars unpacked (proto2) unless tagged packed, and an error if a
// required field is not set. A nil message encodes as nothing.
func Marshal(m any) ([]byte, error) {
	sv, ok := messageValue(m)
	if !ok {
		return nil, nil
	}
	if err := checkRequired(sv); err != nil {
		return nil, err
	}
	return appendMessage(nil, sv), nil
}

func checkRequired(sv reflect.Value) error {
	fs := fieldsOf(sv.Type())
	for _, f := range fs {
		if f.required && sv.Field(f.index).IsNil() {
			return RequiredNotSet(protoPackage + "." + sv.Type().Name() + "." + f.name)
		}
	}
	for _, f := range fs {
		fv := sv.Field(f.index)
		switch {
		case fv.Kind() == reflect.Pointer && fv.Type().Elem().Kind() == reflect.Struct:
			if !fv.IsNil() {
				if err := checkRequired(fv.Elem()); err != nil {
					return err
				}
			}
		case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.Pointer:
			for i := 0; i < fv.Len(); i++ {
				if e := fv.Index(i); !e.IsNil() {
					if err := checkRequired(e.Elem()); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

func appendMessage(b []byte, sv reflect.Value) []byte {
	fs := fieldsOf(sv.Type())
	slices.SortStableFunc(fs, func(x, y fieldInfo) int { return int(x.num) - int(y.num) })
	for _, f := range fs {
		fv := sv.Field(f.index)
		switch fv.Kind() {
		case reflect.Pointer:
			if !fv.IsNil() {
				b = appendValue(b, f.num, fv.Elem())
			}
		case reflect.Slice:
			if f.packed && fv.Len() > 0 {
				var p []byte
				for i := 0; i < fv.Len(); i++ {
					p = AppendVarint(p, varintOf(fv.Index(i)))
				}
				b = AppendVarint(b, f.num<<3|BytesType)
				b = AppendVarint(b, uint64(len(p)))
				b = append(b, p...)
				continue
			}
			for i := 0; i < fv.Len(); i++ {
				e := fv.Index(i)
				if e.Kind() == reflect.Pointer {
					if e.IsNil() {
						e = reflect.New(e.Type().Elem())
					}
					e = e.Elem()
				}
				b = appendValue(b, f.num, e)
			}
		default:
			panic("proto: unsupported field type " + fv.Type().String())
		}
	}
	return b
}

func appendValue(b []byte, num uint64, v reflect.Value) []byte {
	switch v.Kind() {
	case reflect.String:
		b = AppendVarint(b, num<<3|BytesType)
		b = AppendVarint(b, uint64(v.Len()))
		return append(b, v.String()...)
	case reflect.Struct:
		sub := appendMessage(nil, v)
		b = AppendVarint(b, num<<3|BytesType)
		b = AppendVarint(b, uint64(len(sub)))
		return append(b, sub...)
	default:
		b = AppendVarint(b, num<<3|VarintType)
		return AppendVarint(b, varintOf(v))
	}
}

func varintOf(v reflect.Value) uint64 {
	switch v.Kind() {
	case reflect.Bool:
		if v.Bool() {
			return 1
		}
		return 0
	case reflect.Int32, reflect.Int64: // int32 and enums are sign-extended
		return uint64(v.Int())
	case reflect.Uint32, reflect.Uint64:
		return v.Uint()
	}
	panic("proto: unsupported field type " + v.Type().String())
}

// Format returns m, a pointer to a message struct, in the single-line
// protobuf text format, as the String methods of generated messages do
// (e.g. `country_code:1 national_number:6502530000`), but without the extra
// spaces that google.golang.org/protobuf inserts at random to keep callers
// from depending on the output. A nil message formats as "<nil>".
func Format(m any) string {
	sv, ok := messageValue(m)
	if !ok {
		return "<nil>"
	}
	return string(appendText(nil, sv))
}

func appendText(b []byte, sv reflect.Value) []byte {
	for _, f := range fieldsOf(sv.Type()) {
		fv := sv.Field(f.index)
		switch fv.Kind() {
		case reflect.Pointer:
			if !fv.IsNil() {
				b = appendTextField(b, f.name, fv.Elem())
			}
		case reflect.Slice:
			for i := 0; i < fv.Len(); i++ {
				e := fv.Index(i)
				if e.Kind() == reflect.Pointer {
					if e.IsNil() {
						e = reflect.New(e.Type().Elem())
					}
					e = e.Elem()
				}
				b = appendTextField(b, f.name, e)
			}
		}
	}
	return b
}

func appendTextField(b []byte, name string, v reflect.Value) []byte {
	if len(b) > 0 && b[len(b)-1] != '{' {
		b = append(b, ' ')
	}
	b = append(b, name...)
	b = append(b, ':')
	switch v.Kind() {
	case reflect.Struct:
		b = append(b, '{')
		b = appendText(b, v)
		return append(b, '}')
	case reflect.String:
		return appendQuoted(b, v.String())
	case reflect.Bool:
		return strconv.AppendBool(b, v.Bool())
	case reflect.Int32, reflect.Int64:
		if s, ok := v.Interface().(interface{ String() string }); ok { // an enum
			return append(b, s.String()...)
		}
		return strconv.AppendInt(b, v.Int(), 10)
	case reflect.Uint32, reflect.Uint64:
		return strconv.AppendUint(b, v.Uint(), 10)
	}
	panic("proto: unsupported field type " + v.Type().String())
}

// appendQuoted quotes s as the text format does (a port of appendString in
// google.golang.org/protobuf/internal/encoding/text, with outputASCII false).
func appendQuoted(out []byte, in string) []byte {
	out = append(out, '"')
	i := indexNeedEscapeInString(in)
	in, out = in[i:], append(out, in[:i]...)
	for len(in) > 0 {
		switch r, n := utf8.DecodeRuneInString(in); {
		case r == utf8.RuneError && n == 1:
			r = rune(in[0])
			fallthrough
		case r < ' ' || r == '"' || r == '\\' || r == 0x7f:
			out = append(out, '\\')
			switch r {
			case '"', '\\':
				out = append(out, byte(r))
			case '\n':
				out = append(out, 'n')
			case '\r':
				out = append(out, 'r')
			case '\t':
				out = append(out, 't')
			default:
				out = append(out, 'x')
				out = append(out, "00"[1+(bits.Len32(uint32(r))-1)/4:]...)
				out = strconv.AppendUint(out, uint64(r), 16)
			}
			in = in[n:]
		case r >= utf8.RuneSelf && r <= 0x009f:
			out = append(out, '\\')
			if r <= math.MaxUint16 {
				out = append(out, 'u')
				out = append(out, "0000"[1+(bits.Len32(uint32(r))-1)/4:]...)
				out = strconv.AppendUint(out, uint64(r), 16)
			}
			in = in[n:]
		default:
			i := indexNeedEscapeInString(in[n:])
			in, out = in[n+i:], append(out, in[:n+i]...)
		}
	}
	return append(out, '"')
}

func indexNeedEscapeInString(s string) int {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c == '"' || c == '\'' || c == '\\' || c >= 0x7f {
			return i
		}
	}
	return len(s)
}
