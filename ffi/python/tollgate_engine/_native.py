"""The native extension ``_fast`` (the hot paths, over the same library as the ctypes layer)
when the package was built with it, else None: every caller has a ctypes fallback."""

from typing import Any, Optional

native: Optional[Any]
try:
    from . import _fast as _module

    native = _module
except ImportError:  # a source checkout without a build of _fast.c
    native = None
