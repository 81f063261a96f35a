// Package rowerr holds the one error type for a bad input row, shared by every
// package that reads rows (datasets, ratings, generations, batches of groups).
//
// Its message reads "file:row:field: message" — the file and field are left out
// when unknown, and a row-less problem reads "file: message" — so that users see
// the same shape of message from every command.
package rowerr
