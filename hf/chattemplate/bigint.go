package chattemplate

import (
	"math"
	"math/big"
	"math/bits"
)

// Python ints have arbitrary precision. The interpreter keeps an int in an
// int64 while it fits and in a *big.Int (never modified after it is built)
// when it does not: normInt is the only way a *big.Int becomes a value, so a
// *big.Int value is always outside the int64 range and int64 stays the fast
// path. The rules follow CPython: int op int is exact, int op float converts
// the int to float (OverflowError when it is too large), int / int is the
// correctly rounded quotient.

// maxIntDigits is CPython's default limit on the decimal digits of an int
// converted to a string (sys.int_info.default_max_str_digits). An int that
// could not be printed is refused when it is built rather than when it is
// printed: that bounds the memory and time any integer expression may take.
const maxIntDigits = 4300

// maxIntBits is a cheap upper bound used before building a result: an int of
// more bits has more than maxIntDigits digits.
const maxIntBits = 14300 // ceil(4301 * log2(10)) rounded up

// normInt returns b as an int64 value when it fits, else b itself.
func normInt(b *big.Int) any {
	if b.IsInt64() {
		return b.Int64()
	}
	return b
}

// checkBig refuses an integer result Python could not print.
func checkBig(b *big.Int) (any, error) {
	if b.IsInt64() {
		return b.Int64(), nil
	}
	if b.BitLen() > maxIntBits-20 && len(b.Text(10)) > maxIntDigits+1 { // +1: a sign
		return nil, errorf("Exceeds the limit (%d digits) for integer string conversion (the interpreter refuses such integers when they are built)", maxIntDigits)
	}
	return b, nil
}

// isIntValue reports whether v is a Python int (bool counts, as in Python).
func isIntValue(v any) bool {
	switch v.(type) {
	case bool, int64, *big.Int:
		return true
	}
	return false
}

// toBig returns a Python int value as a new *big.Int.
func toBig(v any) (*big.Int, bool) {
	switch x := v.(type) {
	case bool:
		if x {
			return big.NewInt(1), true
		}
		return big.NewInt(0), true
	case int64:
		return big.NewInt(x), true
	case *big.Int:
		return new(big.Int).Set(x), true
	}
	return nil, false
}

// bigToFloat is Python's float(int).
func bigToFloat(b *big.Int) (float64, error) {
	f, _ := new(big.Float).SetInt(b).Float64()
	if math.IsInf(f, 0) {
		return 0, errorf("int too large to convert to float")
	}
	return f, nil
}

// numValue splits a number into an exact int (big) or a float; ok is false for
// non-numbers.
func numValue(v any) (i *big.Int, f float64, isFloat, ok bool) {
	if x, isF := v.(float64); isF {
		return nil, x, true, true
	}
	i, ok = toBig(v)
	return i, 0, false, ok
}

// intArith is an int op int for + - * // % ** (and / which gives a float), with
// an int64 fast path and exact big arithmetic when the result overflows it.
func intArith(op string, a, b any) (any, error) {
	x, xSmall := smallInt(a)
	y, ySmall := smallInt(b)
	if xSmall && ySmall {
		switch op {
		case "+":
			if s, ok := add64(x, y); ok {
				return s, nil
			}
		case "-":
			if s, ok := sub64(x, y); ok {
				return s, nil
			}
		case "*":
			if p, ok := mul64(x, y); ok {
				return p, nil
			}
		case "//":
			if y == 0 {
				return nil, errorf("integer division or modulo by zero")
			}
			if !(x == math.MinInt64 && y == -1) {
				q := x / y
				if (x%y != 0) && ((x < 0) != (y < 0)) {
					q--
				}
				return q, nil
			}
		case "%":
			if y == 0 {
				return nil, errorf("integer modulo by zero")
			}
			if y == -1 {
				return int64(0), nil
			}
			m := x % y
			if m != 0 && (m < 0) != (y < 0) {
				m += y
			}
			return m, nil
		case "/":
			if y == 0 {
				return nil, errorf("division by zero")
			}
			if absLE(x, 1<<53) && absLE(y, 1<<53) {
				return float64(x) / float64(y), nil
			}
		}
	}
	bx, _ := toBig(a)
	by, _ := toBig(b)
	switch op {
	case "+":
		return checkBig(new(big.Int).Add(bx, by))
	case "-":
		return checkBig(new(big.Int).Sub(bx, by))
	case "*":
		if bx.BitLen()+by.BitLen() > maxIntBits {
			return nil, errorf("Exceeds the limit (%d digits) for integer string conversion (the interpreter refuses such integers when they are built)", maxIntDigits)
		}
		return checkBig(new(big.Int).Mul(bx, by))
	case "//", "%":
		if by.Sign() == 0 {
			if op == "//" {
				return nil, errorf("integer division or modulo by zero")
			}
			return nil, errorf("integer modulo by zero")
		}
		q, r := new(big.Int).QuoRem(bx, by, new(big.Int))
		if r.Sign() != 0 && r.Sign() != by.Sign() {
			q.Sub(q, big.NewInt(1))
			r.Add(r, by)
		}
		if op == "//" {
			return checkBig(q)
		}
		return checkBig(r)
	case "/":
		if by.Sign() == 0 {
			return nil, errorf("division by zero")
		}
		f, _ := new(big.Rat).SetFrac(bx, by).Float64()
		if math.IsInf(f, 0) {
			return nil, errorf("integer division result too large for a float")
		}
		return f, nil
	case "**":
		if by.Sign() < 0 {
			fx, err := bigToFloat(bx)
			if err != nil {
				return nil, err
			}
			fy, err := bigToFloat(by)
			if err != nil {
				return nil, err
			}
			if fx == 0 {
				return nil, errorf("0.0 cannot be raised to a negative power")
			}
			return math.Pow(fx, fy), nil
		}
		if bx.CmpAbs(big.NewInt(1)) <= 0 || by.Sign() == 0 {
			// 0, 1 and -1 stay small whatever the exponent
			if by.Sign() == 0 {
				return int64(1), nil
			}
			if bx.Sign() < 0 && by.Bit(0) == 0 {
				return int64(1), nil
			}
			return normInt(bx), nil
		}
		if !by.IsInt64() || (bx.BitLen()-1)*int(min(by.Int64(), maxIntBits+1)) > maxIntBits {
			return nil, errorf("Exceeds the limit (%d digits) for integer string conversion (the interpreter refuses such integers when they are built)", maxIntDigits)
		}
		return checkBig(new(big.Int).Exp(bx, by, nil))
	}
	return nil, errorf("unsupported operator %s", op)
}

// smallInt returns an int value that fits int64.
func smallInt(v any) (int64, bool) {
	switch x := v.(type) {
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case int64:
		return x, true
	}
	return 0, false
}

func absLE(x, bound int64) bool { return x >= -bound && x <= bound }

func add64(x, y int64) (int64, bool) {
	s := x + y
	return s, (s > x) == (y > 0)
}

func sub64(x, y int64) (int64, bool) {
	s := x - y
	return s, (s < x) == (y > 0)
}

func mul64(x, y int64) (int64, bool) {
	if x == 0 || y == 0 {
		return 0, true
	}
	neg := (x < 0) != (y < 0)
	ux, uy := absU(x), absU(y)
	hi, lo := bits.Mul64(ux, uy)
	if hi != 0 {
		return 0, false
	}
	if neg {
		if lo > 1<<63 {
			return 0, false
		}
		return -int64(lo), true // lo == 1<<63 wraps to MinInt64, which is right
	}
	if lo > math.MaxInt64 {
		return 0, false
	}
	return int64(lo), true
}

func absU(x int64) uint64 {
	if x < 0 {
		return uint64(-(x + 1)) + 1
	}
	return uint64(x)
}

// cmpIntFloat compares an exact int with a float the way Python does (exactly);
// ok is false when f is NaN (every comparison is then false).
func cmpIntFloat(i *big.Int, f float64) (c int, ok bool) {
	switch {
	case math.IsNaN(f):
		return 0, false
	case math.IsInf(f, 1):
		return -1, true
	case math.IsInf(f, -1):
		return 1, true
	}
	return new(big.Float).SetInt(i).Cmp(new(big.Float).SetFloat64(f)), true
}

// floatIntKey returns the exact integer of an integral finite float, for
// hashing floats equal to big ints the same way (Python: hash(2.0**64) ==
// hash(2**64)).
func floatIntKey(f float64) (*big.Int, bool) {
	if math.IsInf(f, 0) || math.IsNaN(f) || f != math.Trunc(f) {
		return nil, false
	}
	i, _ := new(big.Float).SetFloat64(f).Int(nil)
	return i, true
}
