//! pg_tokens: machine-to-machine API tokens minted, verified, revoked and
//! audited inside PostgreSQL. This crate is the thin shell around
//! `pg_tokens_core`: it owns the SQL boundary, table access and privileges.

use pgrx::prelude::*;

mod api;
mod audit;
mod error;
mod gucs;
mod privilege;
mod row;
mod store;

::pgrx::pg_module_magic!(name, version);

// The install script is hand-written and committed, so that every released
// version's script stays in the tree for the upgrade tests.
extension_sql_file!("../sql/pg_tokens--0.1.0.sql", name = "install", bootstrap);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    gucs::init();
}
