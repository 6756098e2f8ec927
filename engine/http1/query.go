package http1

import "bytes"

// Query appends the value of the first parameter called name in the
// request target's query to dst, percent-decoded, and reports whether the
// query has one (see QueryParam). Pass dst[:0] of a buffer kept for the
// purpose: it does not allocate when the buffer has room.
func (r *Request) Query(dst []byte, name string) (value []byte, ok bool) {
	i := bytes.IndexByte(r.Target, '?')
	if i < 0 {
		return dst, false
	}
	return QueryParam(dst, r.Target[i+1:], name)
}

// QueryParam appends the value of the first parameter called name in
// query (what follows the '?' of a request target, "a=1&b=2") to dst and
// reports whether there is one. The first parameter of that name decides:
// with "a=1&a=2" the value is 1. Names are matched as written, not
// decoded. A parameter without '=' has an empty value, as does "name=".
// The value is percent-decoded (%XX only: '+' stays '+', since it is a
// space only in HTML forms and base64 and JWT values hold it); a
// malformed escape gives no value rather than a guess at one. When ok is
// false, dst is returned as it was. It allocates only when dst has no
// room for the value.
func QueryParam(dst, query []byte, name string) (value []byte, ok bool) {
	for len(query) > 0 {
		param := query
		if i := bytes.IndexByte(query, '&'); i >= 0 {
			param, query = query[:i], query[i+1:]
		} else {
			query = nil
		}
		key, v := param, param[:0]
		if i := bytes.IndexByte(param, '='); i >= 0 {
			key, v = param[:i], param[i+1:]
		}
		if string(key) == name {
			return percentDecode(dst, v)
		}
	}
	return dst, false
}

// percentDecode appends value, its %XX escapes decoded, to dst. On a
// malformed escape it returns dst as it was, and false.
func percentDecode(dst, value []byte) ([]byte, bool) {
	n := len(dst)
	for i := 0; i < len(value); i++ {
		c := value[i]
		if c == '%' {
			if i+2 >= len(value) || !isHex(value[i+1]) || !isHex(value[i+2]) {
				return dst[:n], false
			}
			c = unhex(value[i+1])<<4 | unhex(value[i+2])
			i += 2
		}
		dst = append(dst, c)
	}
	return dst, true
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
