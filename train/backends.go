package train

// The CPU backend registers itself with kernels.Open; importing it here makes it the
// one every program that trains has, whatever else it links.
import _ "github.com/preftune/preftune/kernels/cpu"
