//! C ABI call overhead over the direct Rust call (filled in with the pricing surface).
fn main() {}
