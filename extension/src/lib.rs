//! pg_tokens: machine-to-machine API tokens minted, verified, revoked and
//! audited inside PostgreSQL. This crate is the thin shell around
//! `pg_tokens_core`: it owns the SQL boundary, table access and privileges.

use pgrx::prelude::*;

mod api;
mod audit;
mod credits;
mod error;
mod events;
mod flush;
mod gucs;
mod leases;
mod lifecycle;
mod plans;
mod policies;
mod principal;
mod privilege;
mod reuse;
mod row;
mod seal;
mod server;
mod shmem;
mod store;
mod usage;

::pgrx::pg_module_magic!(name, version);

// The install script of the current version is the first release's script
// followed by every upgrade script, so a fresh install and an upgraded one
// have the same schema by construction. All are hand-written and committed;
// the first release's script also serves the upgrade tests.
extension_sql_file!("../sql/pg_tokens--0.1.0.sql", name = "v0_1_0", bootstrap);
extension_sql_file!(
    "../sql/pg_tokens--0.1.0--0.2.0.sql",
    name = "v0_2_0",
    requires = ["v0_1_0"]
);
extension_sql_file!(
    "../sql/pg_tokens--0.2.0--0.3.0.sql",
    name = "v0_3_0",
    requires = ["v0_2_0"]
);
extension_sql_file!(
    "../sql/pg_tokens--0.3.0--0.4.0.sql",
    name = "v0_4_0",
    requires = ["v0_3_0"]
);
extension_sql_file!(
    "../sql/pg_tokens--0.4.0--0.5.0.sql",
    name = "v0_5_0",
    finalize
);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    // Never send a Rust backtrace to a client: pgrx puts the one it captures
    // into an error's DETAIL when the server runs with RUST_BACKTRACE set,
    // and capture obeys RUST_LIB_BACKTRACE first. (Set while the postmaster,
    // or a backend loading the library, is single-threaded.)
    std::env::set_var("RUST_LIB_BACKTRACE", "0");
    gucs::init();
    principal::init();
    plans::init();
    // SAFETY: reads a postmaster flag.
    if unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        shmem::init();
        flush::register();
    }
}
