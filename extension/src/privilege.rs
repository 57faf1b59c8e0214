//! Who is calling, and the switch to the extension's owner around table
//! access.
//!
//! The API functions are not SECURITY DEFINER: they run as the calling role
//! (`current_user`, so `SET ROLE` narrows it) and decide from it what is
//! allowed. Only around their own queries do they become the extension's
//! owner, with `search_path` pinned to `pg_catalog, pg_temp`, the way
//! PostgreSQL itself runs a SECURITY DEFINER function with a SET clause.

use std::ffi::CStr;

use pg_tokens_core::Error;
use pgrx::pg_sys;

use crate::error::Result;

pub const WRITER: &CStr = c"tokens_writer";
pub const REVOKER: &CStr = c"tokens_revoker";
pub const READER: &CStr = c"tokens_reader";

/// The role calling the API.
pub struct Caller {
    oid: pg_sys::Oid,
    pub name: String,
}

impl Caller {
    pub fn current() -> Caller {
        // SAFETY: plain reads of backend state; GetUserNameFromId raises on an
        // unknown oid, which cannot happen for the current user.
        unsafe {
            let oid = pg_sys::GetUserId();
            let name = CStr::from_ptr(pg_sys::GetUserNameFromId(oid, false))
                .to_string_lossy()
                .into_owned();
            Caller { oid, name }
        }
    }

    /// Whether the caller has the privileges of `role` (directly, through
    /// inheritance, or as a superuser). A missing role grants nothing.
    pub fn acts_as(&self, role: &CStr) -> bool {
        // SAFETY: catalog lookups by name and oid.
        unsafe {
            let role_oid = pg_sys::get_role_oid(role.as_ptr(), true);
            role_oid != pg_sys::InvalidOid && pg_sys::has_privs_of_role(self.oid, role_oid)
        }
    }

    /// Trusted application servers (members of tokens_writer or
    /// tokens_revoker) may act for another role; anyone else acts for itself.
    pub fn may_act_for_others(&self) -> bool {
        self.acts_as(WRITER) || self.acts_as(REVOKER)
    }

    /// The actor of an administrative call: the `actor` argument, or the
    /// calling role when it is NULL (SPEC §2, §3).
    pub fn actor(&self, actor: Option<&str>) -> Result<String> {
        let Some(actor) = actor else {
            return Ok(self.name.clone());
        };
        let actor = pg_tokens_core::validate::actor(actor)?;
        if actor != self.name && !self.may_act_for_others() {
            return Err(Error::not_allowed(format!(
                "role {} may not act for another role: only members of tokens_writer or \
                 tokens_revoker may pass an actor other than themselves; omit actor or pass your own role name",
                self.name
            )));
        }
        Ok(actor)
    }
}

/// While alive, the backend runs as the extension's owner with a pinned
/// search_path. Dropping it restores the caller. On an error the transaction
/// (or subtransaction) abort restores both, so the drop does nothing then.
pub struct AsOwner {
    saved_user: pg_sys::Oid,
    saved_context: i32,
    guc_level: i32,
}

impl AsOwner {
    pub fn enter() -> Result<AsOwner> {
        let owner = extension_owner()?;
        schema()?;
        // SAFETY: the same sequence as fmgr_security_definer(); both are
        // undone by AtEOXact_GUC/abort processing if an error intervenes.
        unsafe {
            let mut saved_user = pg_sys::InvalidOid;
            let mut saved_context = 0;
            pg_sys::GetUserIdAndSecContext(&mut saved_user, &mut saved_context);
            let guc_level = pin_setting(c"search_path", c"pg_catalog, pg_temp");
            pg_sys::SetUserIdAndSecContext(
                owner,
                saved_context | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32,
            );
            Ok(AsOwner {
                saved_user,
                saved_context,
                guc_level,
            })
        }
    }
}

/// Sets `name` to `value` in a new GUC nest level, as a function's SET
/// clause does; the level is returned for `AtEOXact_GUC(true, level)` to
/// undo it (an abort undoes it too).
pub unsafe fn pin_setting(name: &CStr, value: &CStr) -> i32 {
    let level = pg_sys::NewGUCNestLevel();
    pg_sys::set_config_option(
        name.as_ptr(),
        value.as_ptr(),
        pg_sys::GucContext::PGC_USERSET,
        pg_sys::GucSource::PGC_S_SESSION,
        pg_sys::GucAction::GUC_ACTION_SAVE,
        true,
        0,
        false,
    );
    level
}

impl Drop for AsOwner {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // An ERROR is unwinding: abort processing restores user and GUCs.
            return;
        }
        // SAFETY: restores exactly what enter() saved.
        unsafe {
            pg_sys::AtEOXact_GUC(true, self.guc_level);
            pg_sys::SetUserIdAndSecContext(self.saved_user, self.saved_context);
        }
    }
}

/// What a call needs to know of the installed extension, looked up once
/// per transaction (a bulk mint of 100k tokens in one statement needs one
/// catalog scan, not 100k).
#[derive(Clone, Copy)]
struct Installed {
    /// `pg_extension.extowner`: the role that created it and owns its tables.
    owner: pg_sys::Oid,
    /// `pg_extension.extnamespace`: the schema it was installed in.
    schema: pg_sys::Oid,
}

thread_local! {
    static INSTALLED: std::cell::Cell<Option<(pg_sys::LocalTransactionId, Installed)>> =
        const { std::cell::Cell::new(None) };
}

fn installed() -> Result<Installed> {
    // SAFETY: MyProc is this backend's PGPROC, set for its whole life.
    let lxid = crate::server::local_xid();
    if let Some((at, installed)) = INSTALLED.with(|o| o.get()) {
        if at == lxid {
            return Ok(installed);
        }
    }
    let installed = look_up_extension()?;
    INSTALLED.with(|o| o.set(Some((lxid, installed))));
    Ok(installed)
}

/// The extension's schema, unchecked; None where it is not installed.
pub fn installed_schema() -> Option<pg_sys::Oid> {
    installed().ok().map(|i| i.schema)
}

fn extension_owner() -> Result<pg_sys::Oid> {
    Ok(installed()?.owner)
}

/// The extension's schema, after checking that the name `tokens`, through
/// which its statements reach their tables, still means it: the schema was
/// not renamed and replaced by a look-alike, and it is owned by the
/// extension's owner, so nobody else can do that (SPEC §3). The check is a
/// syscache probe; the rest is looked up once per transaction.
pub fn schema() -> Result<pg_sys::Oid> {
    let installed = installed()?;
    // SAFETY: syscache lookups by name and oid.
    let (named, owner) = unsafe {
        let named = pg_sys::get_namespace_oid(c"tokens".as_ptr(), true);
        (named, namespace_owner(installed.schema))
    };
    if named != installed.schema {
        return Err(Error::not_allowed(
            "the schema named tokens is not the one pg_tokens was installed in (it was renamed or replaced): \
             pg_tokens runs none of its statements until it is; rename the schemas back, or reinstall the extension",
        ));
    }
    if owner != Some(installed.owner) {
        return Err(Error::not_allowed(
            "schema tokens is not owned by the owner of extension pg_tokens: whoever owns it could rename and \
             replace it under the extension; run ALTER SCHEMA tokens OWNER TO the extension's owner",
        ));
    }
    Ok(installed.schema)
}

unsafe fn namespace_owner(schema: pg_sys::Oid) -> Option<pg_sys::Oid> {
    let tuple = pg_sys::SearchSysCache1(
        pg_sys::SysCacheIdentifier::NAMESPACEOID as _,
        pg_sys::Datum::from(schema),
    );
    if tuple.is_null() {
        return None;
    }
    let owner = (*pg_sys::heap_tuple_get_struct::<pg_sys::FormData_pg_namespace>(tuple)).nspowner;
    pg_sys::ReleaseSysCache(tuple);
    Some(owner)
}

fn look_up_extension() -> Result<Installed> {
    // SAFETY: the same catalog scan as PostgreSQL's get_extension_oid(); the
    // fields are copied out before the scan ends.
    unsafe {
        let rel = pg_sys::table_open(pg_sys::ExtensionRelationId, pg_sys::AccessShareLock as _);
        let mut key: pg_sys::ScanKeyData = std::mem::zeroed();
        pg_sys::ScanKeyInit(
            &mut key,
            pg_sys::Anum_pg_extension_extname as _,
            pg_sys::BTEqualStrategyNumber as _,
            pg_sys::Oid::from(pg_sys::F_NAMEEQ),
            pg_sys::Datum::from(c"pg_tokens".as_ptr()),
        );
        let scan = pg_sys::systable_beginscan(
            rel,
            pg_sys::Oid::from(pg_sys::ExtensionNameIndexId),
            true,
            std::ptr::null_mut(),
            1,
            &mut key,
        );
        let tuple = pg_sys::systable_getnext(scan);
        let installed = if tuple.is_null() {
            None
        } else {
            let row = &*pg_sys::heap_tuple_get_struct::<pg_sys::FormData_pg_extension>(tuple);
            Some(Installed {
                owner: row.extowner,
                schema: row.extnamespace,
            })
        };
        pg_sys::systable_endscan(scan);
        pg_sys::table_close(rel, pg_sys::AccessShareLock as _);
        installed.ok_or_else(|| {
            Error::Internal("extension pg_tokens is not installed in this database".into())
        })
    }
}

/// Whether the database has the extension, in its own schema, with table
/// `name` (one a later version added: a database not yet upgraded has
/// none); an error when the schema is not the extension's own. For the
/// background worker, which visits databases with and without it.
pub fn has_table(client: &pgrx::spi::SpiClient<'_>, name: &CStr) -> Result<bool> {
    let installed = client
        .select(
            "SELECT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname OPERATOR(pg_catalog.=) 'pg_tokens')",
            None,
            &[],
        )
        .map_err(crate::error::internal)?
        .first()
        .get_one::<bool>()
        .map_err(crate::error::internal)?;
    if installed != Some(true) {
        return Ok(false);
    }
    has_own_table(name)
}

/// Whether the extension's schema has table `name`, for a caller of the
/// extension (installed by then).
pub fn has_own_table(name: &CStr) -> Result<bool> {
    let schema = schema()?;
    // SAFETY: a syscache lookup by name.
    Ok(unsafe { pg_sys::get_relname_relid(name.as_ptr(), schema) } != pg_sys::InvalidOid)
}
