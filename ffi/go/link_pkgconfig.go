//go:build tollgate_pkgconfig && !tollgate_external

package tollgate

// Build tag tollgate_pkgconfig: link the engine installed with `make install PREFIX=…`
// (tollgate-engine.pc); set PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig if it is not in a default place.

/*
#cgo pkg-config: tollgate-engine
*/
import "C"
