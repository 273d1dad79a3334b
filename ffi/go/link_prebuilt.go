//go:build linux && amd64 && !tollgate_external && !tollgate_pkgconfig

package tollgate

// The prebuilt static library shipped inside the module (lib/linux_amd64, staged by
// scripts/stage_bindings.sh from the release build): a program using this package is one
// self-contained binary, with no shared library to find at run time.

/*
#cgo LDFLAGS: ${SRCDIR}/lib/linux_amd64/libtollgate_ffi.a -lgcc_s -lutil -lrt -lpthread -lm -ldl
*/
import "C"
