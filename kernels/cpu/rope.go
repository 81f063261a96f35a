package cpu

import "fmt"

func checkRoPE(op string, x []float32, pos []int32, cos, sin []float32, n, h, hd int) int {
	if hd%2 != 0 {
		panic(fmt.Sprintf("cpu.%s: head dim %d is odd", op, hd))
	}
	need(op, "x", x, n*h*hd)
	needInt(op, "pos", pos, n)
	half := hd / 2
	maxPos := 0
	if half > 0 {
		maxPos = min(len(cos), len(sin)) / half
	}
	for i, p := range pos[:n] {
		if p < 0 || int(p) >= maxPos {
			panic(fmt.Sprintf("cpu.%s: pos[%d] = %d outside the tables' [0,%d)", op, i, p, maxPos))
		}
	}
	return half
}

// rope rotates every head of rows [lo,hi) by +angle (sign 1) or -angle (sign -1).
// HF rotate-half: for i < HD/2, (x_i, x_{i+HD/2}) ← (x_i·c − x_{i+HD/2}·s, x_{i+HD/2}·c + x_i·s).
func rope(x []float32, pos []int32, cos, sin []float32, h, hd int, sign float32, lo, hi int) {
	half := hd / 2
	for t := lo; t < hi; t++ {
		p := int(pos[t])
		cs := cos[p*half : p*half+half]
		sn := sin[p*half : p*half+half]
		for hh := 0; hh < h; hh++ {
			head := x[(t*h+hh)*hd : (t*h+hh+1)*hd]
			x1 := head[:half]
			x2 := head[half:hd]
			for i, c := range cs {
				s := sign * sn[i]
				a, b := x1[i], x2[i]
				x1[i] = a*c - b*s
				x2[i] = b*c + a*s
			}
		}
	}
}

// RoPEForward: x[N,H,HD] rotated in place (HF rotate-half layout) at positions pos[N] using cos/sin[maxPos,HD/2] (see RopeTables).
func (be *Backend) RoPEForward(x []float32, pos []int32, cos, sin []float32, n, h, hd int) {
	checkRoPE("RoPEForward", x, pos, cos, sin, n, h, hd)
	l := &be.lp.rope
	*l = ropeLoop{x: x, pos: pos, cos: cos, sin: sin, h: h, hd: hd, sign: 1}
	be.pool.run(n, grainFor(3*h*hd), l)
}

// RoPEBackward: dx[N,H,HD] rotated back in place (inverse rotation = the exact gradient of RoPEForward).
func (be *Backend) RoPEBackward(dx []float32, pos []int32, cos, sin []float32, n, h, hd int) {
	checkRoPE("RoPEBackward", dx, pos, cos, sin, n, h, hd)
	l := &be.lp.rope
	*l = ropeLoop{x: dx, pos: pos, cos: cos, sin: sin, h: h, hd: hd, sign: -1}
	be.pool.run(n, grainFor(3*h*hd), l)
}

type ropeLoop struct {
	x, cos, sin []float32
	pos         []int32
	h, hd       int
	sign        float32
}

func (l *ropeLoop) chunk(_, lo, hi int) { rope(l.x, l.pos, l.cos, l.sin, l.h, l.hd, l.sign, lo, hi) }
