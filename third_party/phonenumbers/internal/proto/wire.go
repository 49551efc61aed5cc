package proto

// Wire types. A field's tag is its number shifted left by 3, ORed with the
// wire type of its value: 9<<3 | BytesType.
const (
	VarintType     = 0
	Fixed64Type    = 1
	BytesType      = 2
	StartGroupType = 3
	EndGroupType   = 4
	Fixed32Type    = 5
)

const (
	minValidNumber = 1
	maxValidNumber = 1<<29 - 1
	maxInt32       = 1<<31 - 1

	// recursionLimit bounds the nesting of groups in skipped fields, as
	// protowire.DefaultRecursionLimit does.
	recursionLimit = 10000
)

// ConsumeVarint parses a base-128 varint at the start of b and returns its
// value and length, or n < 0 if b is truncated or the varint overflows 64
// bits (more than 10 bytes, or a 10th byte above 1).
func ConsumeVarint(b []byte) (v uint64, n int) {
	for i := 0; i < len(b) && i < 10; i++ {
		c := b[i]
		if i == 9 && c > 1 {
			return 0, -1
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, i + 1
		}
	}
	return 0, -1
}

// consumeBytes returns the length of the length-delimited value at the
// start of b, prefix included, or -1.
func consumeBytes(b []byte) int {
	m, n := ConsumeVarint(b)
	if n < 0 || m > uint64(len(b)-n) {
		return -1
	}
	return n + int(m)
}

// consumeFieldValue returns the length of the value of a field with number
// num and wire type typ at the start of b, or -1 if it is invalid. A group is
// consumed up to its matching end-group tag; depth limits group nesting.
func consumeFieldValue(num uint64, typ int, b []byte, depth int) int {
	switch typ {
	case VarintType:
		_, n := ConsumeVarint(b)
		return n
	case Fixed32Type:
		if len(b) < 4 {
			return -1
		}
		return 4
	case Fixed64Type:
		if len(b) < 8 {
			return -1
		}
		return 8
	case BytesType:
		return consumeBytes(b)
	case StartGroupType:
		if depth < 0 {
			return -1
		}
		n0 := len(b)
		for {
			tag, n := ConsumeVarint(b)
			if n < 0 {
				return -1
			}
			num2, typ2 := tag>>3, int(tag&7)
			if num2 < minValidNumber || num2 > maxInt32 {
				return -1
			}
			b = b[n:]
			if typ2 == EndGroupType {
				if num2 != num {
					return -1
				}
				return n0 - len(b)
			}
			n = consumeFieldValue(num2, typ2, b, depth-1)
			if n < 0 {
				return -1
			}
			b = b[n:]
		}
	default: // an end-group tag without a start, or a reserved wire type (6, 7)
		return -1
	}
}

// A Decoder reads the fields of one wire-format message. Typical use:
//
//	d := proto.NewDecoder(b)
//	for d.Next() {
//		switch d.Tag() {
//		case 1<<3 | proto.BytesType:
//			m.Name = proto.String(string(d.Bytes()))
//		default:
//			d.Skip()
//		}
//	}
//	return d.Err()
//
// After Next, exactly one of the value methods (Varint, Bytes, Int32s,
// Skip) must be called, matching the tag's wire type. Once the input proves
// invalid, Next returns false and Err returns ErrInvalid; the value methods
// then return zero values. A field whose wire type does not match the one
// expected for its number must go to Skip, like an unknown field.
type Decoder struct {
	b   []byte
	tag uint64
	err error
}

// NewDecoder returns a Decoder reading the message encoded in b.
func NewDecoder(b []byte) Decoder {
	return Decoder{b: b}
}

func (d *Decoder) fail() {
	if d.err == nil {
		d.err = ErrInvalid
	}
	d.b = nil
}

// Fail records err (if non-nil and no error was recorded yet) and stops
// the decoding.
func (d *Decoder) Fail(err error) {
	if err != nil {
		if d.err == nil {
			d.err = err
		}
		d.b = nil
	}
}

// Next reads the next field's tag. It returns false at the end of the input
// or once the input proved invalid.
func (d *Decoder) Next() bool {
	if d.err != nil || len(d.b) == 0 {
		return false
	}
	tag, n := ConsumeVarint(d.b)
	if n < 0 {
		d.fail()
		return false
	}
	if num := tag >> 3; num < minValidNumber || num > maxValidNumber {
		d.fail()
		return false
	}
	if tag&7 == EndGroupType { // not inside a group
		d.fail()
		return false
	}
	d.b = d.b[n:]
	d.tag = tag
	return true
}

// Tag returns the tag read by the last call to Next: number<<3 | wire type.
func (d *Decoder) Tag() uint64 { return d.tag }

// Err returns the error that stopped the decoding, if any.
func (d *Decoder) Err() error { return d.err }

// Varint reads the value of a VarintType field.
func (d *Decoder) Varint() uint64 {
	v, n := ConsumeVarint(d.b)
	if n < 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

// Bytes reads the value of a BytesType field. The result aliases the input.
func (d *Decoder) Bytes() []byte {
	m, n := ConsumeVarint(d.b)
	if n < 0 || m > uint64(len(d.b)-n) {
		d.fail()
		return nil
	}
	v := d.b[n : n+int(m) : n+int(m)]
	d.b = d.b[n+int(m):]
	return v
}

// Int32s reads the value of a repeated int32 field, either one element
// (VarintType) or a packed run of them (BytesType), and appends it to s.
func (d *Decoder) Int32s(s []int32) []int32 {
	if d.tag&7 != BytesType {
		v := d.Varint()
		if d.err != nil {
			return s
		}
		return append(s, int32(v))
	}
	b := d.Bytes()
	for len(b) > 0 {
		v, n := ConsumeVarint(b)
		if n < 0 {
			d.fail()
			return s
		}
		s = append(s, int32(v))
		b = b[n:]
	}
	return s
}

// Skip skips the value of the current field (an unknown field, or a known
// one with an unexpected wire type).
func (d *Decoder) Skip() {
	n := consumeFieldValue(d.tag>>3, int(d.tag&7), d.b, recursionLimit)
	if n < 0 {
		d.fail()
		return
	}
	d.b = d.b[n:]
}

// AppendVarint appends v to b as a varint.
func AppendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}
