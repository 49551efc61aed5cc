package asl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// jobj is a JSON object that remembers its key order (used for definitions,
// so problems are reported in the order they appear).
type jobj struct {
	keys []string
	m    map[string]any
}

// decodeOrdered decodes a definition; dups lists the JSON Pointers of keys
// that appear more than once in an object (the last value wins).
func decodeOrdered(data []byte) (v any, dups []string, err error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	d := &orderedDecoder{dec: dec}
	v, err = d.value("")
	if err != nil {
		return nil, nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, fmt.Errorf("unexpected data after the definition")
	}
	return v, d.dups, nil
}

type orderedDecoder struct {
	dec  *json.Decoder
	dups []string
}

func (d *orderedDecoder) value(loc string) (any, error) {
	dec := d.dec
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := &jobj{m: map[string]any{}}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k := kt.(string)
				v, err := d.value(loc + "/" + pointerEscape(k))
				if err != nil {
					return nil, err
				}
				if _, dup := o.m[k]; dup {
					d.dups = append(d.dups, loc+"/"+pointerEscape(k))
				} else {
					o.keys = append(o.keys, k)
				}
				o.m[k] = v
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return o, nil
		case '[':
			a := []any{}
			for dec.More() {
				v, err := d.value(loc + "/" + itoa(len(a)))
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return a, nil
		}
		return nil, fmt.Errorf("unexpected %v", t)
	}
	return tok, nil
}

func itoa(i int) string { return strconv.Itoa(i) }
