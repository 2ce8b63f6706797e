//! An example crate for a private skillreg registry.

/// Returns a greeting.
pub fn hello(name: &str) -> String {
    format!("hello, {name}")
}
