"""Build of the tollgate-engine wheel (metadata in pyproject.toml).

Two compiled parts go into the package directory:

- the engine's C ABI library, ``libtollgate_ffi`` (crate ``ffi/`` of this repository), built
  by cargo through setuptools-rust in release mode with the workspace's ``Cargo.lock``
  (``--locked``); the ctypes layer loads it from the package;
- ``_fast``, a CPython extension in C (``tollgate_engine/_fast.c``) for the hot paths
  (``Engine.price``, ``Engine.price_columns``). It is compiled against the checked-in header
  ``include/tollgate.h`` and links against no library: at import it receives the addresses of
  the library's functions from the ctypes layer.

Building needs a Rust toolchain and a C compiler; installing the wheel needs neither.
"""

from pathlib import Path

from setuptools import Extension, setup
from setuptools_rust import Binding, RustExtension

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

setup(
    rust_extensions=[
        RustExtension(
            "tollgate_engine.libtollgate_ffi",
            path=str(REPO / "ffi" / "Cargo.toml"),
            binding=Binding.NoBinding,
            cargo_manifest_args=["--locked"],
            py_limited_api=False,
        )
    ],
    ext_modules=[
        Extension(
            "tollgate_engine._fast",
            sources=["tollgate_engine/_fast.c"],
            include_dirs=[str(REPO / "include")],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Werror", "-Wno-missing-field-initializers",
                                "-Wno-cast-function-type", "-Wno-unused-parameter"],
        )
    ],
    zip_safe=False,
)
