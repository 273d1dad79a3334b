//go:build !(linux && amd64) && !tollgate_external && !tollgate_pkgconfig

package tollgate

// No prebuilt library ships for this platform (only linux/amd64 does). Building here stops
// on the identifier below, whose name says what to do: build the library from the
// repository (cargo build --release -p tollgate-ffi), then either install it
// (make install PREFIX=…) and build with -tags tollgate_pkgconfig, or point CGO_CFLAGS and
// CGO_LDFLAGS at it and build with -tags tollgate_external. See ffi/go/README.md.
var _ = tollgate_no_prebuilt_library_for_this_platform__build_with_tags_tollgate_pkgconfig_or_tollgate_external_see_README
