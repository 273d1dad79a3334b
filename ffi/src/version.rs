//! ABI version: macros in the header, checked against `tg_abi_version()` at load by every
//! binding (SQLite's `SQLITE_VERSION_NUMBER` vs `sqlite3_libversion_number()`).

use crate::boundary::boundary_value;

/// Major ABI version: bumped on any incompatible change (a changed signature, struct layout
/// or meaning). A binding built for another major version must refuse to load.
pub const TG_ABI_VERSION_MAJOR: u32 = 1;
/// Minor ABI version: bumped when functions or status codes are added compatibly. A binding
/// built for minor N works with a library of minor ≥ N.
pub const TG_ABI_VERSION_MINOR: u32 = 1;
/// `TG_ABI_VERSION_MAJOR << 16 | TG_ABI_VERSION_MINOR`, the value `tg_abi_version()` returns
/// for the header it was built with.
pub const TG_ABI_VERSION: u32 = (TG_ABI_VERSION_MAJOR << 16) | TG_ABI_VERSION_MINOR;

/// The ABI version of the loaded library, `major << 16 | minor`. A caller compiled against
/// this header checks, before any other call, that the major versions agree and the library
/// is at least as new: `tg_abi_version() >> 16 == TG_ABI_VERSION_MAJOR &&
/// tg_abi_version() >= TG_ABI_VERSION`.
///
/// Thread-safety: any thread. Never fails.
#[unsafe(no_mangle)]
pub extern "C" fn tg_abi_version() -> u32 {
    boundary_value(TG_ABI_VERSION, || TG_ABI_VERSION)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_packs_major_and_minor() {
        // 1 << 16 | 1 = 65537 (ABI 1.1 added tg_state_save and tg_report_query).
        assert_eq!(tg_abi_version(), 65_537);
        assert_eq!(tg_abi_version() >> 16, TG_ABI_VERSION_MAJOR);
    }
}
