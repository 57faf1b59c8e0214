//! The read path without SQL: the token by its hash and an owner's limits,
//! each one probe of an index read straight from the table (no SPI, no
//! search_path, the latest committed state), and the deforming of the rows
//! found.

use super::*;

/// The token with this hash: one probe of the unique index on the hash, no
/// row lock, no SQL. The scan reads the table directly (as the extension
/// would through a SECURITY DEFINER function), so neither the caller's
/// privileges nor its search_path are involved. It reads the latest
/// committed state (and this transaction's own changes), not the caller's
/// snapshot: a revoke or disable is seen by every call that starts after it
/// commits, whatever snapshot the transaction holds, imported ones included
/// (SPEC §7).
pub fn find_by_hash(hash: &[u8; 32]) -> Result<Option<StoredToken>> {
    // SAFETY: every datum is converted (meta copied) before the slot and
    // its buffer pin are dropped.
    unsafe {
        let (table, index) = token_relations()?;
        let key = hash
            .as_slice()
            .into_datum()
            .ok_or_else(|| internal("hash datum"))?;
        probe(
            table,
            index,
            pg_sys::F_BYTEAEQ,
            key,
            Seen::Latest,
            |heap, slot| {
                let natts = (*(*heap).rd_att).natts;
                pg_sys::slot_getsomeattrs_int(slot, natts);
                let values = std::slice::from_raw_parts((*slot).tts_values, natts as usize);
                let nulls = std::slice::from_raw_parts((*slot).tts_isnull, natts as usize);
                deformed_token(values, nulls)
            },
        )
    }
}

/// The limits `owner` shares with its other tokens (tokens.
/// set_owner_limits): one probe of tokens.owner_limit_store's primary key,
/// as find_by_hash reads (the latest committed state). None when it has
/// none, or the database is not yet upgraded to 0.5.0 (no such table).
pub fn owner_limits(owner: &str) -> Result<Option<crate::usage::OwnerLimits>> {
    // SAFETY: every datum is converted before the slot is dropped.
    unsafe {
        let Some((table, index)) = owner_limit_relations()? else {
            return Ok(None);
        };
        let key = owner.into_datum().ok_or_else(|| internal("owner datum"))?;
        probe_collated(
            table,
            index,
            pg_sys::F_TEXTEQ,
            pg_sys::DEFAULT_COLLATION_OID,
            key,
            Seen::Latest,
            |heap, slot| {
                let natts = (*(*heap).rd_att).natts;
                if natts < 4 {
                    return Err(internal(
                        "tokens.owner_limit_store has fewer columns than expected",
                    ));
                }
                pg_sys::slot_getsomeattrs_int(slot, natts);
                let values = std::slice::from_raw_parts((*slot).tts_values, natts as usize);
                let nulls = std::slice::from_raw_parts((*slot).tts_isnull, natts as usize);
                let limit = if nulls[1] || nulls[2] {
                    None
                } else {
                    let per = &*values[2].cast_mut_ptr::<pg_sys::Interval>();
                    let requests = values[1].value() as i32;
                    (requests > 0).then(|| RateLimit {
                        requests: requests as u32,
                        per_micros: interval_micros(per.month, per.day, per.time) as i64,
                    })
                };
                let pool = (!nulls[3]).then(|| values[3].value() as i64);
                Ok(crate::usage::OwnerLimits { limit, pool })
            },
        )
    }
}

thread_local! {
    /// tokens.owner_limit_store and its primary key (None: not there),
    /// looked up once per transaction.
    static OWNER_LIMIT_RELATIONS: std::cell::Cell<Option<(pg_sys::LocalTransactionId, Option<(pg_sys::Oid, pg_sys::Oid)>)>> =
        const { std::cell::Cell::new(None) };
}

pub(super) unsafe fn owner_limit_relations() -> Result<Option<(pg_sys::Oid, pg_sys::Oid)>> {
    let lxid = crate::server::local_xid();
    if let Some((at, found)) = OWNER_LIMIT_RELATIONS.with(|r| r.get()) {
        if at == lxid {
            return Ok(found);
        }
    }
    let schema = crate::privilege::schema()?;
    let table = pg_sys::get_relname_relid(c"owner_limit_store".as_ptr(), schema);
    let index = pg_sys::get_relname_relid(c"owner_limit_store_pkey".as_ptr(), schema);
    let found =
        (table != pg_sys::InvalidOid && index != pg_sys::InvalidOid).then_some((table, index));
    OWNER_LIMIT_RELATIONS.with(|r| r.set(Some((lxid, found))));
    Ok(found)
}

/// Which snapshot a probe reads with.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// The caller's current snapshot.
    Caller,
    /// A new snapshot taken for the probe: the latest committed state.
    Latest,
}

/// One probe of a unique `index` on `table` (first column equal to `key`,
/// compared with the function `equal`), as `seen` sees it; `row` reads the tuple found (its relation still open, its
/// buffer still pinned). No SQL, no privilege check, no search_path: the
/// table is read directly, as the extension would through a SECURITY
/// DEFINER function. The AccessShareLocks are kept to the end of the
/// transaction, as the executor keeps them, so the next probe in the same
/// transaction finds them already held.
///
/// # Safety
/// `table` and `index` must be a table and an index on its first column.
pub unsafe fn probe<R>(
    table: pg_sys::Oid,
    index: pg_sys::Oid,
    equal: u32,
    key: pg_sys::Datum,
    seen: Seen,
    row: impl FnOnce(pg_sys::Relation, *mut pg_sys::TupleTableSlot) -> Result<R>,
) -> Result<Option<R>> {
    probe_collated(table, index, equal, pg_sys::InvalidOid, key, seen, row)
}

/// As [`probe`], comparing with `collation` (a text key's).
///
/// # Safety
/// As [`probe`].
pub unsafe fn probe_collated<R>(
    table: pg_sys::Oid,
    index: pg_sys::Oid,
    equal: u32,
    collation: pg_sys::Oid,
    key: pg_sys::Datum,
    seen: Seen,
    row: impl FnOnce(pg_sys::Relation, *mut pg_sys::TupleTableSlot) -> Result<R>,
) -> Result<Option<R>> {
    let heap = pg_sys::try_table_open(table, pg_sys::AccessShareLock as _);
    if heap.is_null() {
        return Err(internal(
            "a pg_tokens table was dropped in this transaction",
        ));
    }
    let index = pg_sys::index_open(index, pg_sys::AccessShareLock as _);
    let mut scan_key: pg_sys::ScanKeyData = std::mem::zeroed();
    // An index scan takes the index's attribute number: the key is its first.
    pg_sys::ScanKeyInit(
        &mut scan_key,
        1,
        pg_sys::BTEqualStrategyNumber as _,
        pg_sys::Oid::from(equal),
        key,
    );
    scan_key.sk_collation = collation;
    let snapshot = match seen {
        Seen::Latest => pg_sys::RegisterSnapshot(pg_sys::GetLatestSnapshot()),
        Seen::Caller if pg_sys::ActiveSnapshotSet() => pg_sys::GetActiveSnapshot(),
        Seen::Caller => pg_sys::GetTransactionSnapshot(),
    };
    let scan = crate::server::index_beginscan(heap, index, snapshot, 1);
    pg_sys::index_rescan(scan, &mut scan_key, 1, std::ptr::null_mut(), 0);
    let slot = pg_sys::table_slot_create(heap, std::ptr::null_mut());
    let found =
        if pg_sys::index_getnext_slot(scan, pg_sys::ScanDirection::ForwardScanDirection, slot) {
            row(heap, slot).map(Some)
        } else {
            Ok(None)
        };
    pg_sys::ExecDropSingleTupleTableSlot(slot);
    pg_sys::index_endscan(scan);
    if seen == Seen::Latest {
        pg_sys::UnregisterSnapshot(snapshot);
    }
    pg_sys::index_close(index, pg_sys::NoLock as _);
    pg_sys::table_close(heap, pg_sys::NoLock as _);
    found
}

thread_local! {
    /// The token table and its hash index, looked up once per transaction
    /// (three catalog lookups a verification would otherwise repeat).
    static RELATIONS: std::cell::Cell<Option<(pg_sys::LocalTransactionId, pg_sys::Oid, pg_sys::Oid)>> =
        const { std::cell::Cell::new(None) };
}

pub(super) unsafe fn token_relations() -> Result<(pg_sys::Oid, pg_sys::Oid)> {
    let lxid = crate::server::local_xid();
    if let Some((at, table, index)) = RELATIONS.with(|r| r.get()) {
        if at == lxid {
            return Ok((table, index));
        }
    }
    let schema = crate::privilege::schema()?;
    let table_oid = pg_sys::get_relname_relid(c"token_store".as_ptr(), schema);
    let index_oid = pg_sys::get_relname_relid(c"token_store_hash_key".as_ptr(), schema);
    if table_oid == pg_sys::InvalidOid || index_oid == pg_sys::InvalidOid {
        return Err(internal(
            "tokens.token_store or its hash index is missing: is pg_tokens installed?",
        ));
    }
    RELATIONS.with(|r| r.set(Some((lxid, table_oid, index_oid))));
    Ok((table_oid, index_oid))
}

/// A token_store row from its attributes, in the order the install scripts
/// declare them: id, hash, prefix, name, kind, owner, scopes, expires_at,
/// created_at, revoked_at (0.1.0), allowed_ips (0.2.0), rate_requests,
/// rate_per, disabled_at, meta (0.3.0), credit_pool (0.4.0).
pub(super) unsafe fn deformed_token(
    values: &[pg_sys::Datum],
    nulls: &[bool],
) -> Result<StoredToken> {
    if values.len() < 10 {
        return Err(internal(
            "tokens.token_store has fewer columns than expected",
        ));
    }
    let get = |i: usize| (values[i], nulls[i]);
    fn required<T: pgrx::FromDatum>((d, null): (pg_sys::Datum, bool), what: &str) -> Result<T> {
        // SAFETY: the datum comes from the column of T's type.
        unsafe { T::from_datum(d, null) }.ok_or_else(|| internal(format!("column {what} is NULL")))
    }
    fn optional<T: pgrx::FromDatum>((d, null): (pg_sys::Datum, bool)) -> Option<T> {
        // SAFETY: as above.
        unsafe { T::from_datum(d, null) }
    }
    Ok(StoredToken {
        id: required(get(0), "id")?,
        prefix: required(get(2), "prefix")?,
        name: required(get(3), "name")?,
        kind: required(get(4), "kind")?,
        owner: required(get(5), "owner")?,
        scopes: optional(get(6)),
        expires_at: micros(optional(get(7))),
        created_at: pg_sys::TimestampTz::from(required::<TimestampWithTimeZone>(
            get(8),
            "created_at",
        )?),
        revoked_at: micros(optional(get(9))),
        // Column 11 arrived with 0.2.0; a database not yet upgraded has none.
        allowed_ips: match values.get(10) {
            Some(&d) if !nulls[10] => Some(cidr_list(d)),
            _ => None,
        },
        // Columns 12 and 13 arrived with 0.3.0.
        rate_limit: match (values.get(11), values.get(12)) {
            (Some(&requests), Some(&per)) if !nulls[11] && !nulls[12] => {
                let per = &*per.cast_mut_ptr::<pg_sys::Interval>();
                let requests = requests.value() as i32;
                (requests > 0).then(|| RateLimit {
                    requests: requests as u32,
                    per_micros: interval_micros(per.month, per.day, per.time) as i64,
                })
            }
            _ => None,
        },
        // Column 14, disabled_at, arrived with 0.3.0 too.
        disabled: values.get(13).is_some() && !nulls[13],
        // Column 15, meta (jsonb), arrived with 0.3.0 too.
        meta: match values.get(14) {
            Some(&d) if !nulls[14] => {
                let copy = pg_sys::pg_detoast_datum_copy(d.cast_mut_ptr());
                Some(Meta::Jsonb(pg_sys::Datum::from(copy)))
            }
            _ => None,
        },
        // Column 16, credit_pool, arrived with 0.4.0.
        credit_pool: match values.get(15) {
            Some(&d) if !nulls[15] => Some(d.value() as i64),
            _ => None,
        },
    })
}

/// A jsonb datum as its text (jsonb_out).
pub(crate) unsafe fn jsonb_text(datum: pg_sys::Datum) -> String {
    let text = pg_sys::OidOutputFunctionCall(pg_sys::Oid::from(pg_sys::F_JSONB_OUT), datum);
    CStr::from_ptr(text).to_string_lossy().into_owned()
}

/// A cidr[] datum as its elements' text ("10.0.0.0/8"), via array_out.
pub(super) unsafe fn cidr_list(datum: pg_sys::Datum) -> Vec<String> {
    let text = pg_sys::OidOutputFunctionCall(pg_sys::Oid::from(pg_sys::F_ARRAY_OUT), datum);
    let list = CStr::from_ptr(text).to_string_lossy();
    list.trim_matches(|c| c == '{' || c == '}')
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}
