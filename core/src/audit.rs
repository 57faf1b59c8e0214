//! The audit hash chain: each row's hash covers the previous row's hash and
//! the row's canonical content. The encoding depends on no session setting:
//! times are integer microseconds, text is length-prefixed UTF-8, and meta is
//! jsonb's own canonical text.

use sha2::{Digest, Sha256};

/// One audit row's content, as it is chained.
#[derive(Debug, Clone, Copy)]
pub struct AuditRow<'a> {
    pub id: i64,
    /// Microseconds since 2000-01-01 UTC.
    pub at: i64,
    pub actor: &'a str,
    pub db_role: &'a str,
    pub action: &'a str,
    pub target: Option<&'a str>,
    /// `meta::text` of the stored jsonb.
    pub meta: Option<&'a str>,
}

const DOMAIN: &[u8] = b"pg_tokens.audit.v1\0";

/// The hash of `row` chained to `previous` (None for the first row).
pub fn chain_hash(previous: Option<&[u8]>, row: &AuditRow<'_>) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    field(&mut h, previous);
    h.update(row.id.to_be_bytes());
    h.update(row.at.to_be_bytes());
    field(&mut h, Some(row.actor.as_bytes()));
    field(&mut h, Some(row.db_role.as_bytes()));
    field(&mut h, Some(row.action.as_bytes()));
    field(&mut h, row.target.map(str::as_bytes));
    field(&mut h, row.meta.map(str::as_bytes));
    h.finalize().into()
}

fn field(h: &mut Sha256, value: Option<&[u8]>) {
    match value {
        None => h.update([0u8]),
        Some(v) => {
            h.update([1u8]);
            h.update((v.len() as u64).to_be_bytes());
            h.update(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row<'a>(target: Option<&'a str>, meta: Option<&'a str>) -> AuditRow<'a> {
        AuditRow {
            id: 1,
            at: 42,
            actor: "alice",
            db_role: "app",
            action: "token.create",
            target,
            meta,
        }
    }

    #[test]
    fn every_field_and_the_link_change_the_hash() {
        let base = chain_hash(None, &row(Some("token:x"), Some("{}")));
        assert_ne!(
            base,
            chain_hash(Some(&[0; 32]), &row(Some("token:x"), Some("{}")))
        );
        assert_ne!(base, chain_hash(None, &row(None, Some("{}"))));
        assert_ne!(base, chain_hash(None, &row(Some("token:x"), None)));
        assert_ne!(base, chain_hash(None, &row(Some(""), Some("{}"))));
        let mut other = row(Some("token:x"), Some("{}"));
        other.id = 2;
        assert_ne!(base, chain_hash(None, &other));
        other = row(Some("token:x"), Some("{}"));
        other.at = 43;
        assert_ne!(base, chain_hash(None, &other));
        assert_eq!(base, chain_hash(None, &row(Some("token:x"), Some("{}"))));
    }

    #[test]
    fn fields_cannot_be_shifted_into_each_other() {
        let a = AuditRow {
            actor: "ab",
            db_role: "c",
            ..row(None, None)
        };
        let b = AuditRow {
            actor: "a",
            db_role: "bc",
            ..row(None, None)
        };
        assert_ne!(chain_hash(None, &a), chain_hash(None, &b));
    }
}
