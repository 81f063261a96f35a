package kernels

// DropoutHash is the counter-based random stream behind Backend.DropoutMask: element i
// of the mask for key is kept when DropoutHash(key, i) ≥ p·2⁶⁴. It is splitmix64's
// output function at state key + (i+1)·0x9E3779B97F4A7C15, so every element is
// independent of the others and a device backend can draw them in parallel.
func DropoutHash(key uint64, i int) uint64 {
	z := key + uint64(i+1)*0x9E3779B97F4A7C15
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	return z ^ z>>31
}
