//! Building the composite rows the API returns (`tokens.minted`,
//! `tokens.verification`), without parsing a type name on every call.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::CStr;

use pgrx::heap_tuple::PgHeapTuple;
use pgrx::pg_sys;
use pgrx::{AllocatedByRust, IntoDatum, PgTupleDesc};

use crate::error::{internal, Result};

pub type Composite = PgHeapTuple<'static, AllocatedByRust>;

thread_local! {
    /// Type name -> (schema oid, type oid). Checked against the extension's
    /// schema on every use, so a dropped and re-created extension is looked
    /// up afresh.
    static TYPES: RefCell<HashMap<&'static CStr, (pg_sys::Oid, pg_sys::Oid)>> = RefCell::new(HashMap::new());
}

/// The oid of composite type `tokens.<name>`.
fn type_oid(name: &'static CStr) -> Result<pg_sys::Oid> {
    let schema = crate::privilege::schema()?;
    if let Some((s, t)) = TYPES.with(|c| c.borrow().get(name).copied()) {
        if s == schema {
            return Ok(t);
        }
    }
    // SAFETY: a syscache probe with valid keys.
    let oid = unsafe {
        pg_sys::GetSysCacheOid(
            pg_sys::SysCacheIdentifier::TYPENAMENSP as _,
            pg_sys::Anum_pg_type_oid as _,
            pg_sys::Datum::from(name.as_ptr()),
            pg_sys::Datum::from(schema),
            pg_sys::Datum::from(0),
            pg_sys::Datum::from(0),
        )
    };
    if oid == pg_sys::InvalidOid {
        return Err(internal(format!(
            "type tokens.{} does not exist",
            name.to_string_lossy()
        )));
    }
    TYPES.with(|c| c.borrow_mut().insert(name, (schema, oid)));
    Ok(oid)
}

/// A row of composite type `tokens.<type_name>`, attributes in order.
/// Values past the type's last attribute are left out: attributes added by
/// a later version are absent from a database not yet upgraded.
pub fn build(
    type_name: &'static CStr,
    mut values: Vec<Option<pg_sys::Datum>>,
) -> Result<Composite> {
    let oid = type_oid(type_name)?;
    let desc = PgTupleDesc::for_composite_type_by_oid(oid)
        .ok_or_else(|| internal("not a composite type"))?;
    values.truncate(desc.len());
    // SAFETY: every value was made by IntoDatum for the attribute's type,
    // in the order the install script declares the attributes.
    unsafe { PgHeapTuple::from_datums(desc, values) }.map_err(internal)
}

/// A jsonb value from jsonb's own text.
pub fn jsonb(text: &str) -> Result<pg_sys::Datum> {
    let text = std::ffi::CString::new(text).map_err(internal)?;
    // SAFETY: jsonb_in of a NUL-terminated string; it raises on bad input,
    // which jsonb's own output never is.
    Ok(unsafe {
        pg_sys::OidInputFunctionCall(
            pg_sys::Oid::from(pg_sys::F_JSONB_IN),
            text.as_ptr().cast_mut(),
            pg_sys::InvalidOid,
            -1,
        )
    })
}

/// A token's `meta` as it will be stored: checked to be a JSON object of at
/// most 4096 bytes both as given and as jsonb's own text (what
/// `octet_length(meta::text)` measures: `1e1000` is 6 bytes given, 1,001
/// stored), and returned as that text.
pub fn token_meta(text: Option<&str>) -> Result<Option<String>> {
    let Some(given) = pg_tokens_core::validate::token_meta(text)? else {
        return Ok(None);
    };
    // SAFETY: a jsonb datum made just now by jsonb_in.
    let stored = unsafe { crate::store::jsonb_text(jsonb(given)?) };
    pg_tokens_core::validate::token_meta(Some(&stored))?;
    Ok(Some(stored))
}

/// One attribute's value.
pub fn value<T: IntoDatum>(v: T) -> Option<pg_sys::Datum> {
    v.into_datum()
}
