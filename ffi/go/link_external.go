//go:build tollgate_external

package tollgate

// Build tag tollgate_external: the package adds no linker flags; set them yourself, e.g.
//
//	CGO_CFLAGS="-I/path/to/include" CGO_LDFLAGS="/path/to/libtollgate_ffi.a -lm -ldl -lpthread" go build -tags tollgate_external
