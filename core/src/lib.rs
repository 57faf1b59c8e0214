//! The parts of pg_tokens that need no database: the token format, its hash,
//! the rules for every argument, and the error each rule raises.
//!
//! The extension is a thin shell over this crate, so everything here is
//! tested with plain `cargo test`.

pub mod audit;
pub mod error;
pub mod format;
pub mod validate;

pub use error::{Error, SqlState};
pub use format::{display_prefix, hash, imported_hash, parse, Plaintext, TokenHash, WellFormed};
pub mod allowlist;
pub mod credits;
pub mod leak;
pub mod policy;
pub mod status;
pub mod time;
pub mod usage;
