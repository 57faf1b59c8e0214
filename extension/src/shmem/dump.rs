//! Clean shutdown: the postmaster writes what no flush has taken yet (and
//! every lease with credits) to a file, and reads it back, once, at the
//! next start, for the flush to write then.

use std::io::{Read, Write};
use std::ptr;
use std::sync::atomic::{AtomicU32, Ordering};

use pgrx::pg_sys;

use super::{
    available, capacity, count_entry, pending_of, scan, Entry, Key, Slot, State, HASH, SHARED,
};
use crate::leases::{self, Lease, LeaseKey, PoolRef};

/// Where the counters not yet flushed wait across a clean shutdown
/// (relative to the data directory, like pg_stat_statements' file).
const DUMP_FILE: &str = "pg_stat/pg_tokens.usage";
const DUMP_MAGIC: &[u8; 8] = b"PGTKUSE2";
/// The file of 0.4.0, without owners: read back as well.
const DUMP_MAGIC_V1: &[u8; 8] = b"PGTKUSE1";

#[pgrx::pg_guard]
pub(super) unsafe extern "C-unwind" fn shutdown(code: i32, _arg: pg_sys::Datum) {
    // Never after a crash: the counters may be inconsistent, and a crash is
    // allowed to lose the last flush interval.
    if code != 0 || !available() {
        return;
    }
    let mut entries = Vec::new();
    // A flush that was stopped between its commit and settling its counts
    // (an immediate shutdown) leaves its database's counts uncertain: they
    // are dropped rather than risk counting them twice.
    let shared = &*SHARED;
    let in_flight = Some(shared.flushing_db.load(Ordering::Acquire)).filter(|&db| db != 0);
    // At postmaster exit no backend is left: no lock is needed (nor usable).
    scan(|entry| {
        if in_flight == Some((*entry).key.db) {
            return true;
        }
        let state = (*entry).state;
        let (slots, _) = pending_of(&state, 0);
        if !slots.is_empty() || state.last_used > state.flushed_last_used {
            entries.push(((*entry).key, state));
        }
        true
    });
    // And every lease with credits: the next start reads them back, so a
    // clean restart loses none.
    let leases = leases::all_with_credits();
    let _ = write_dump(&entries, &leases);
}

type Leases = Vec<(LeaseKey, Lease)>;

fn write_dump(entries: &[(Key, State)], leases: &Leases) -> std::io::Result<()> {
    let tmp = format!("{DUMP_FILE}.tmp");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
    out.write_all(DUMP_MAGIC)?;
    out.write_all(&(entries.len() as u64).to_le_bytes())?;
    for (key, state) in entries {
        out.write_all(&key.db.to_le_bytes())?;
        out.write_all(&key.token)?;
        out.write_all(&state.last_used.to_le_bytes())?;
        out.write_all(&state.flushed_last_used.to_le_bytes())?;
        out.write_all(&state.owner.to_le_bytes())?;
        for s in &state.slots {
            out.write_all(&s.minute.to_le_bytes())?;
            out.write_all(&s.count.to_le_bytes())?;
            out.write_all(&s.denied.to_le_bytes())?;
        }
    }
    out.write_all(&(leases.len() as u64).to_le_bytes())?;
    for (key, lease) in leases {
        out.write_all(&key.db.to_le_bytes())?;
        out.write_all(&key.table.to_le_bytes())?;
        for word in [
            key.number,
            lease.period,
            lease.until,
            lease.credits,
            lease.size,
            lease.granted_at,
        ] {
            out.write_all(&word.to_le_bytes())?;
        }
    }
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    std::fs::rename(&tmp, DUMP_FILE)
}

fn bytes<const N: usize>(input: &mut impl Read) -> std::io::Result<[u8; N]> {
    let mut b = [0u8; N];
    input.read_exact(&mut b)?;
    Ok(b)
}

fn word(input: &mut impl Read) -> std::io::Result<u64> {
    bytes(input).map(u64::from_le_bytes)
}

fn read_dump() -> std::io::Result<(Vec<(Key, State)>, Leases)> {
    let mut input = std::io::BufReader::new(std::fs::File::open(DUMP_FILE)?);
    let with_owner = match &bytes::<8>(&mut input)? {
        DUMP_MAGIC => true,
        DUMP_MAGIC_V1 => false,
        _ => return Err(std::io::Error::other("not a pg_tokens usage file")),
    };
    let input = &mut input;
    let mut entries = Vec::new();
    for _ in 0..word(input)? {
        let key = Key {
            db: u32::from_le_bytes(bytes(input)?),
            token: bytes(input)?,
        };
        let mut state = State {
            last_used: word(input)? as i64,
            flushed_last_used: word(input)? as i64,
            ..Default::default()
        };
        if with_owner {
            state.owner = word(input)?;
        }
        for s in state.slots.iter_mut() {
            *s = Slot {
                minute: word(input)? as i64,
                count: word(input)?,
                denied: word(input)?,
            };
        }
        entries.push((key, state));
    }
    let mut leases = Vec::new();
    if with_owner {
        for _ in 0..word(input)? {
            let db = u32::from_le_bytes(bytes(input)?);
            let table = u32::from_le_bytes(bytes(input)?);
            let mut next = || word(input).map(|w| w as i64);
            let pool = PoolRef {
                table,
                number: next()?,
            };
            let lease = Lease {
                pool,
                period: next()?,
                until: next()?,
                credits: next()?,
                size: next()?,
                granted_at: next()?,
                pending_since: 0,
            };
            leases.push((LeaseKey::of(db, pool), lease));
        }
    }
    Ok((entries, leases))
}

/// Called by the postmaster at start, before any backend exists.
pub(super) unsafe fn load() {
    let (entries, leases) = match read_dump() {
        Ok(read) => read,
        Err(_) => return, // none (the usual case) or unreadable: nothing to restore
    };
    let _ = std::fs::remove_file(DUMP_FILE);
    let now = pg_sys::GetCurrentTimestamp();
    for (key, lease) in leases {
        leases::restore(key, lease, now);
    }
    for (key, state) in entries.into_iter().take(capacity() as usize) {
        let mut found = false;
        let entry = pg_sys::hash_search(
            HASH,
            ptr::addr_of!(key).cast(),
            pg_sys::HASHACTION::HASH_ENTER_NULL,
            &mut found,
        )
        .cast::<Entry>();
        if entry.is_null() {
            break;
        }
        ptr::write(ptr::addr_of_mut!((*entry).lock), AtomicU32::new(0));
        ptr::write(ptr::addr_of_mut!((*entry).state), state);
        count_entry(key.db, state.owner, 1);
    }
}
