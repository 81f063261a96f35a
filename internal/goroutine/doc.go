// Package goroutine runs work on other goroutines without letting a panic there kill the
// process: Go's recover only works on the panicking goroutine, so a panic in a worker
// would crash the program past the command's guard (exit 2 and a goroutine dump). A Group
// keeps the first panic of its goroutines and re-raises it on the goroutine that waits,
// where cmd/preftune's guard turns it into "internal error", exit 1.
package goroutine
