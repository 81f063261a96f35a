// Package dlopen holds what the runtime-loaded C libraries (OpenBLAS, oneDNN) share:
// the order in which candidate file names are tried, the environment override, and
// the error that names every candidate tried. The dlopen/dlsym calls themselves stay
// in each library's cgo file (their symbols and signatures differ).
package dlopen
