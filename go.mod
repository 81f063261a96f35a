module github.com/preftune/preftune

go 1.26.8
