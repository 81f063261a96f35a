package tokenizer

import "unicode/utf8"

// byteToRune maps each byte to the printable character GPT-2's byte-level BPE uses
// for it: printable Latin-1 bytes stand for themselves, the other 68 bytes
// (controls, space, 0x7F-0xA0, 0xAD) take U+0100.. in byte order.
var byteToRune [256]rune

// runeToByte inverts byteToRune; runeToByteOK says which runes are in the alphabet.
var (
	runeToByte   = map[rune]byte{}
	byteLevelStr [256]string // byteToRune[b] as a string
)

func init() {
	next := rune(256)
	for b := 0; b < 256; b++ {
		printable := (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)
		if printable {
			byteToRune[b] = rune(b)
		} else {
			byteToRune[b] = next
			next++
		}
		runeToByte[byteToRune[b]] = byte(b)
		byteLevelStr[b] = string(byteToRune[b])
	}
}

// byteLevelEncode maps raw bytes to their byte-level characters, appended to dst.
func byteLevelEncode(dst []byte, raw string) []byte {
	for i := 0; i < len(raw); i++ {
		dst = utf8.AppendRune(dst, byteToRune[raw[i]])
	}
	return dst
}

// byteLevelDecodeToken maps one token's characters back to bytes. A token holding a
// character outside the alphabet (an added token such as "<|im_start|>" is fine, it
// is ASCII; a CJK added token is not) keeps its own UTF-8 bytes, as HF does.
func byteLevelDecodeToken(dst []byte, tok string) []byte {
	start := len(dst)
	for _, r := range tok {
		b, ok := runeToByte[r]
		if !ok {
			return append(dst[:start], tok...)
		}
		dst = append(dst, b)
	}
	return dst
}
