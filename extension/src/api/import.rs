//! `tokens.import`: a key made by another system (a hand-written table of
//! SHA-256 hashes), taken over as a token of its own. Its plaintext never
//! passes through here: only its hash and the display prefix do. Verify
//! finds it by the SHA-256 of the presented key's bytes (see
//! `pg_tokens_core::imported_hash` for which keys qualify).

use pg_tokens_core::validate::{self, DISPLAY_PREFIX_MAX};
use pg_tokens_core::{Error, TokenHash};
use pgrx::datum::{Array, TimestampWithTimeZone};
use pgrx::prelude::*;
use pgrx::Uuid;

use super::clock;
use super::mint::{check_catalogue, store_new, Origin, Request, Stored};
use crate::error::{OrRaise, Result};
use crate::privilege::{AsOwner, Caller, WRITER};
use crate::store;

/// `tokens.import(hash, prefix, name, scopes, expires_at, kind, owner,
/// meta)`: the SQL function passes `meta::text`. tokens_writer only;
/// audited as `token.import`; a hash already stored is refused (23505).
#[allow(clippy::too_many_arguments)]
#[pg_extern(sql = false)]
fn import_meta_text(
    hash: Option<&[u8]>,
    prefix: Option<&str>,
    name: Option<&str>,
    scopes: Option<Array<'_, &str>>,
    expires_at: Option<TimestampWithTimeZone>,
    kind: Option<&str>,
    owner: Option<&str>,
    meta: Option<&str>,
) -> Uuid {
    let caller = Caller::current();
    if !caller.acts_as(WRITER) {
        crate::error::raise(Error::not_allowed(format!(
            "role {} may not import tokens: tokens.import needs tokens_writer",
            caller.name
        )));
    }
    let hash = sha256(hash).or_raise();
    let prefix = validate::display_prefix(prefix).or_raise();
    let request =
        Request::from_args(&caller, name, scopes, expires_at, kind, owner, meta).or_raise();
    let _owner = AsOwner::enter().or_raise();
    Spi::connect_mut(|client| {
        check_catalogue(client, request.scopes.as_deref())?;
        crate::policies::expiry_rule(client, clock())?.admits_mint(request.expires_at)?;
        if let Some(present) = store::find_by_hash(&hash)? {
            return Err(Error::Duplicate(format!(
                "a token with this hash is already stored (token {}): each key is imported once",
                present.id
            )));
        }
        let secret = Stored {
            hash,
            prefix: &prefix,
        };
        Ok(store_new(client, &caller, secret, &request, Origin::Import)?.id)
    })
    .or_raise()
}

/// The key's SHA-256: exactly 32 bytes.
fn sha256(hash: Option<&[u8]>) -> Result<TokenHash> {
    let Some(bytes) = hash else {
        return Err(Error::invalid(
            "hash",
            "hash must not be NULL: pass the SHA-256 of the key's plaintext (32 bytes, \
             e.g. decode(hex_digest, 'hex'))",
        ));
    };
    TokenHash::try_from(bytes).map_err(|_| {
        Error::invalid(
            "hash",
            format!(
                "hash must be the SHA-256 of the key's plaintext: 32 bytes (got {}); \
                 a hex digest is decode(hex_digest, 'hex')",
                bytes.len()
            ),
        )
    })
}

// The prefix limit is the one of minted tokens' display prefixes.
const _: () = assert!(DISPLAY_PREFIX_MAX == pg_tokens_core::format::DISPLAY_PREFIX_LEN);
