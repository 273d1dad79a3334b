module github.com/tollgate-engine/tollgate-engine/ffi/go

go 1.22
