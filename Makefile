# Convenience targets at the repository root; the C ABI's own Makefile is ffi/c/Makefile.
#   make install PREFIX=/opt/tollgate   header, libtollgate_ffi.{so,a} and lib/pkgconfig/tollgate-engine.pc
PREFIX ?= /usr/local

.PHONY: install
install:
	cargo build --release -p tollgate-ffi
	$(MAKE) -C ffi/c install PREFIX=$(abspath $(PREFIX))
