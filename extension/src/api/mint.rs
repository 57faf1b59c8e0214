//! `tokens.mint`: a new token, its plaintext returned exactly once.

use pg_tokens_core::usage::RateLimit;
use pg_tokens_core::validate::{self, Kind};
use pg_tokens_core::{Error, Plaintext, TokenHash};
use pgrx::datum::{Array, TimestampWithTimeZone};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::Uuid;

use super::{clock, minted_row, now, text_list, timestamp_arg};
use crate::audit::{self, token_target, Event};
use crate::error::{OrRaise, Result};
use crate::privilege::{AsOwner, Caller, WRITER};
use crate::row;
use crate::store::{self, Meta, NewToken, StoredToken};

/// `tokens.mint` of the 0.1.0 and 0.2.0 schemas (no meta argument), kept
/// for databases not yet upgraded.
#[pg_extern(sql = false)]
fn mint(
    name: Option<&str>,
    scopes: Option<Array<'_, &str>>,
    expires_at: Option<TimestampWithTimeZone>,
    kind: Option<&str>,
    owner: Option<&str>,
) -> pgrx::composite_type!('static, "tokens.minted") {
    mint_with(name, scopes, expires_at, kind, owner, None)
}

/// `tokens.mint(..., meta jsonb)`: the SQL function passes `meta::text`.
#[pg_extern(sql = false)]
fn mint_meta_text(
    name: Option<&str>,
    scopes: Option<Array<'_, &str>>,
    expires_at: Option<TimestampWithTimeZone>,
    kind: Option<&str>,
    owner: Option<&str>,
    meta: Option<&str>,
) -> pgrx::composite_type!('static, "tokens.minted") {
    mint_with(name, scopes, expires_at, kind, owner, meta)
}

fn mint_with(
    name: Option<&str>,
    scopes: Option<Array<'_, &str>>,
    expires_at: Option<TimestampWithTimeZone>,
    kind: Option<&str>,
    owner: Option<&str>,
    meta: Option<&str>,
) -> pgrx::composite_type!('static, "tokens.minted") {
    let caller = Caller::current();
    let request =
        Request::from_args(&caller, name, scopes, expires_at, kind, owner, meta).or_raise();
    authorize(&caller, &request).or_raise();
    let (plaintext, token) = {
        let _owner = AsOwner::enter().or_raise();
        Spi::connect_mut(|client| {
            check_catalogue(client, request.scopes.as_deref())?;
            crate::policies::expiry_rule(client, clock())?.admits_mint(request.expires_at)?;
            let plaintext = Plaintext::generate()?;
            let token = store_new(client, &caller, (&plaintext).into(), &request, Origin::Mint)?;
            Ok((plaintext, token))
        })
        .or_raise()
    };
    minted_row(&plaintext, &token).or_raise()
}

/// The create event's meta with the token's own meta added as `"meta"`,
/// spliced in as jsonb's text so that it is recorded exactly (a JSON parser
/// would round big numbers).
fn with_token_meta(event: Option<String>, token_meta: Option<&str>) -> Option<String> {
    match (event, token_meta) {
        (Some(mut text), Some(m)) if text.ends_with('}') && text.len() > 2 => {
            text.pop();
            text.push_str(", \"meta\": ");
            text.push_str(m);
            text.push('}');
            Some(text)
        }
        (event, _) => event,
    }
}

/// A validated mint request.
pub struct Request {
    pub name: String,
    pub scopes: Option<Vec<String>>,
    pub expires_at: Option<i64>,
    pub kind: Kind,
    pub owner: String,
    /// Carried over by a rotation; mint never sets one.
    pub allowed_ips: Option<Vec<String>>,
    /// Carried over by a rotation; mint never sets one.
    pub rate_limit: Option<RateLimit>,
    /// Carried over by a rotation: a disabled token's successor is disabled.
    pub disabled: bool,
    /// Application data (jsonb text), from mint or carried over by a rotation.
    pub meta: Option<String>,
}

impl Request {
    /// A new token's arguments as `mint` (and `import`) take them, checked
    /// in their order; the owner defaults to the caller.
    pub fn from_args(
        caller: &Caller,
        name: Option<&str>,
        scopes: Option<Array<'_, &str>>,
        expires_at: Option<TimestampWithTimeZone>,
        kind: Option<&str>,
        owner: Option<&str>,
        meta: Option<&str>,
    ) -> Result<Request> {
        Ok(Request {
            name: validate::name(name)?,
            scopes: text_list("scopes", scopes).and_then(|s| validate::scopes(s.as_deref()))?,
            expires_at: validate::expires_at(timestamp_arg(expires_at), clock())?,
            kind: validate::kind(kind)?,
            owner: validate::owner(owner.unwrap_or(&caller.name))?,
            allowed_ips: None,
            rate_limit: None,
            disabled: false,
            meta: row::token_meta(meta)?,
        })
    }
}

/// tokens_writer mints any kind for any owner; tokens_self_service mints
/// only personal tokens owned by itself.
fn authorize(caller: &Caller, request: &Request) -> Result<()> {
    if caller.acts_as(WRITER) {
        return Ok(());
    }
    if request.kind != Kind::Personal {
        return Err(Error::not_allowed(format!(
            "role {} may mint only personal tokens: minting a service token needs tokens_writer",
            caller.name
        )));
    }
    if request.owner != caller.name {
        return Err(Error::not_allowed(format!(
            "role {} may mint personal tokens only for itself: omit owner or pass your own role name \
             (minting for another owner needs tokens_writer)",
            caller.name
        )));
    }
    if request.meta.is_some() {
        return Err(Error::not_allowed(format!(
            "role {} may not mint a token with meta: applications trust meta, so it is set by tokens_writer only \
             (mint without meta)",
            caller.name
        )));
    }
    Ok(())
}

/// Once the scope catalogue has entries, only its scopes may be granted.
pub(super) fn check_catalogue(client: &SpiClient<'_>, scopes: Option<&[String]>) -> Result<()> {
    match store::first_undefined_scope(client, scopes.unwrap_or_default())? {
        None => Ok(()),
        // A scope shaped like a token is never repeated back.
        Some(scope) if pg_tokens_core::parse(scope.as_bytes()).is_some() => Err(Error::invalid(
            "scopes",
            "a scope is not in the scope catalogue: use scopes listed in tokens.scopes, \
             or define them first with tokens.define_scope",
        )),
        Some(scope) => Err(Error::invalid(
            "scopes",
            format!(
            "scope \"{scope}\" is not in the scope catalogue: use a scope listed in tokens.scopes, \
             or define it first with tokens.define_scope"
        ),
        )),
    }
}

/// Where a new token comes from: its audit row says so.
pub enum Origin<'a> {
    /// `tokens.mint`: audited as `token.create` by the caller.
    Mint,
    /// `tokens.rotate` of `from`, by `actor`: `token.create` with
    /// `rotated_from`.
    Rotation { from: Uuid, actor: &'a str },
    /// `tokens.import` of a key made elsewhere: `token.import`.
    Import,
}

/// What is stored of a token's secret: its hash and its display prefix.
pub struct Stored<'a> {
    pub hash: TokenHash,
    pub prefix: &'a str,
}

impl<'a> From<&'a Plaintext> for Stored<'a> {
    fn from(plaintext: &'a Plaintext) -> Self {
        Stored {
            hash: plaintext.hash(),
            prefix: plaintext.display_prefix(),
        }
    }
}

/// Stores a new token and its audit row (`token.create`, or `token.import`).
pub fn store_new(
    client: &mut SpiClient<'_>,
    caller: &Caller,
    secret: Stored<'_>,
    request: &Request,
    origin: Origin<'_>,
) -> Result<StoredToken> {
    let id = Uuid::from_bytes(*uuid::Uuid::now_v7().as_bytes());
    let created_at = now();
    store::insert(
        client,
        &NewToken {
            id,
            hash: &secret.hash,
            prefix: secret.prefix,
            name: &request.name,
            kind: request.kind.as_str(),
            owner: &request.owner,
            scopes: request.scopes.as_deref(),
            expires_at: request.expires_at,
            created_at,
            allowed_ips: request.allowed_ips.as_deref(),
            rate_limit: request.rate_limit,
            disabled: request.disabled,
            meta: request.meta.as_deref(),
        },
    )?;
    let mut meta = serde_json::json!({
        "name": request.name,
        "kind": request.kind.as_str(),
        "owner": request.owner,
        "scopes": request.scopes,
        "expires_at": request.expires_at.map(pg_tokens_core::time::rfc3339),
    });
    let (actor, action) = match origin {
        Origin::Rotation { from, actor } => {
            meta["rotated_from"] = serde_json::json!(from.to_string());
            (actor, "token.create")
        }
        Origin::Mint => (caller.name.as_str(), "token.create"),
        Origin::Import => {
            meta["prefix"] = serde_json::json!(secret.prefix);
            (caller.name.as_str(), "token.import")
        }
    };
    audit::append(
        client,
        Event {
            actor,
            db_role: &caller.name,
            action,
            target: token_target(id),
            meta: with_token_meta(audit::meta(meta), request.meta.as_deref()),
            at: created_at,
        },
    )?;
    Ok(StoredToken {
        id,
        prefix: secret.prefix.to_owned(),
        name: request.name.clone(),
        kind: request.kind.as_str().to_owned(),
        owner: request.owner.clone(),
        scopes: request.scopes.clone(),
        expires_at: request.expires_at,
        created_at,
        revoked_at: None,
        allowed_ips: request.allowed_ips.clone(),
        rate_limit: request.rate_limit,
        disabled: request.disabled,
        meta: request.meta.clone().map(Meta::Text),
        credit_pool: None,
    })
}
