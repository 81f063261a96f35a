package tokenizer

import "unicode/utf8"

// appendLossyUTF8 appends b to dst with every ill-formed sequence replaced by one
// U+FFFD per "maximal subpart" (Unicode §3.9, the practice of Rust's
// String::from_utf8_lossy and Python's errors="replace"): a truncated 3-byte
// sequence E2 82 becomes one U+FFFD, two stray continuation bytes become two.
// Go's utf8.DecodeRune consumes one byte per error, which differs.
func appendLossyUTF8(dst, b []byte) []byte {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			dst = append(dst, c)
			i++
			continue
		}
		need, lo, hi := 0, byte(0x80), byte(0xBF) // continuation count; range of the first continuation
		switch {
		case c >= 0xC2 && c <= 0xDF:
			need = 1
		case c == 0xE0:
			need, lo = 2, 0xA0
		case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
			need = 2
		case c == 0xED:
			need, hi = 2, 0x9F
		case c == 0xF0:
			need, lo = 3, 0x90
		case c >= 0xF1 && c <= 0xF3:
			need = 3
		case c == 0xF4:
			need, hi = 3, 0x8F
		default: // 0x80-0xC1, 0xF5-0xFF never start a sequence
			dst = utf8.AppendRune(dst, utf8.RuneError)
			i++
			continue
		}
		k := 1
		for ; k <= need; k++ {
			if i+k >= len(b) {
				break
			}
			x := b[i+k]
			l, h := byte(0x80), byte(0xBF)
			if k == 1 {
				l, h = lo, hi
			}
			if x < l || x > h {
				break
			}
		}
		if k > need {
			dst = append(dst, b[i:i+k]...)
		} else {
			dst = utf8.AppendRune(dst, utf8.RuneError)
		}
		i += k
	}
	return dst
}

// validUTF8 returns s unchanged when it is valid UTF-8, else its lossy repair.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return string(appendLossyUTF8(nil, []byte(s)))
}
