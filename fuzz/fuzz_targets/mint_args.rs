//! The rules for the arguments of `tokens.mint` and of the calls that change
//! a token after it (SPEC §1, §2), under arbitrary arguments.
//!
//! Every rule must answer without panicking, and accept exactly what its
//! documented rule allows, restated here independently of the core's code
//! (lengths counted as the docs count them, the scope alphabet, networks in
//! cidr form, the bounds of expiry, grace, rate limits and credit caps). A
//! refusal must be an `invalid_parameter_value` whose message never carries
//! a token that was passed in (a token pasted into the wrong argument must
//! not reach a log).

#![no_main]

use std::net::IpAddr;

use arbitrary::Arbitrary;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use pg_tokens_core::allowlist;
use pg_tokens_core::credits::{self, Cap, Refill};
use pg_tokens_core::usage::{self, RateLimit, RateWindow};
use pg_tokens_core::validate::{self, Kind, Timestamp};
use pg_tokens_core::Error;

const MICROS_PER_SECOND: i128 = 1_000_000;
const MICROS_PER_DAY: i128 = 86_400 * MICROS_PER_SECOND;
/// Generated text stays below this many bytes (past every limit: 4096).
const TEXT_CAP: usize = 10_000;

/// A text argument: fuzzer text, text repeated, text of exactly a documented
/// limit or one character under or over it, a token, or a token inside other
/// text.
#[derive(Arbitrary, Debug)]
enum Text {
    Raw(String),
    Repeat {
        unit: String,
        times: u16,
    },
    Boundary {
        head: String,
        fill: char,
        limit: Limit,
        delta: Delta,
    },
    Token([u8; 24]),
    Around {
        before: String,
        secret: [u8; 24],
        after: String,
    },
}

/// The documented limits, in characters.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Limit {
    /// A scope.
    Scope,
    /// A name, an owner, an actor.
    Label,
    /// A description, a reason.
    Long,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Delta {
    Under,
    At,
    Over,
}

impl Delta {
    fn apply(self, n: usize) -> usize {
        match self {
            Delta::Under => n - 1,
            Delta::At => n,
            Delta::Over => n + 1,
        }
    }
}

impl Text {
    fn render(&self) -> String {
        match self {
            Text::Raw(s) => s.clone(),
            Text::Repeat { unit, times } => {
                let times = usize::from(*times).min(TEXT_CAP / unit.len().max(1));
                unit.repeat(times)
            }
            Text::Boundary {
                head,
                fill,
                limit,
                delta,
            } => {
                let limit = match limit {
                    Limit::Scope => validate::SCOPE_MAX,
                    Limit::Label => validate::NAME_MAX,
                    Limit::Long => validate::DESCRIPTION_MAX,
                };
                let chars = delta.apply(limit);
                let head: String = head.chars().take(chars).collect();
                let fill = fill.to_string().repeat(chars - head.chars().count());
                head + &fill
            }
            Text::Token(secret) => token(secret),
            Text::Around {
                before,
                secret,
                after,
            } => format!("{before}{}{after}", token(secret)),
        }
    }
}

/// A network as text: an address with a prefix length from 0 to one past
/// the longest (host bits cleared or not), or a bare address.
#[derive(Arbitrary, Debug)]
struct Net {
    addr: IpAddr,
    len: u8,
    masked: bool,
    bare: bool,
}

impl Net {
    fn render(&self) -> String {
        if self.bare {
            return self.addr.to_string();
        }
        let max = max_len(self.addr);
        let len = self.len % (max + 2);
        let addr = if self.masked && len <= max {
            masked(self.addr, len)
        } else {
            self.addr
        };
        format!("{addr}/{len}")
    }
}

fn max_len(addr: IpAddr) -> u8 {
    if addr.is_ipv4() {
        32
    } else {
        128
    }
}

/// `addr` with the bits right of a `len`-bit mask cleared.
fn masked(addr: IpAddr, len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            IpAddr::V4((u32::from(a) & mask).into())
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            IpAddr::V6((u128::from(a) & mask).into())
        }
    }
}

/// An element of a text[] argument: any text, or a network.
#[derive(Arbitrary, Debug)]
enum Item {
    Text(Text),
    Net(Net),
}

impl Item {
    fn render(&self) -> String {
        match self {
            Item::Text(t) => t.render(),
            Item::Net(n) => n.render(),
        }
    }
}

/// A text[] argument: items as given, or one item up to 80 times (made
/// distinct by a suffix of lower-case letters, or not), maybe with one NULL.
#[derive(Arbitrary, Debug)]
enum List {
    Items(Vec<Option<Item>>),
    Many {
        item: Item,
        count: u8,
        distinct: bool,
        null_at: Option<u8>,
    },
}

impl List {
    fn render(&self) -> Vec<Option<String>> {
        match self {
            List::Items(items) => items.iter().map(|i| i.as_ref().map(Item::render)).collect(),
            List::Many {
                item,
                count,
                distinct,
                null_at,
            } => {
                // 80 items of 64 characters at most: past both list limits
                // (16 scopes, 64 networks) and the scope length (40).
                let item: String = item.render().chars().take(64).collect();
                (0..*count % 81)
                    .map(|i| {
                        let mut s = item.clone();
                        if *distinct {
                            s.push_str(&letters(i));
                        }
                        (Some(i) != *null_at).then_some(s)
                    })
                    .collect()
            }
        }
    }
}

/// `i` in base 26, digits 'a' to 'z', least significant first: distinct for
/// distinct `i`.
fn letters(mut i: u8) -> String {
    let mut s = String::new();
    loop {
        s.push(char::from(b'a' + i % 26));
        i /= 26;
        if i == 0 {
            return s;
        }
    }
}

fn token(secret: &[u8; 24]) -> String {
    format!("tbm_{}", URL_SAFE_NO_PAD.encode(secret))
}

/// `meta` as jsonb's text: any text, an object `{...}` around some, or an
/// object of exactly 4096 bytes, or one byte under or over.
#[derive(Arbitrary, Debug)]
enum MetaArg {
    Text(Text),
    Object { leading_spaces: u8, body: Text },
    Sized { key: String, delta: Delta },
}

impl MetaArg {
    fn render(&self) -> String {
        match self {
            MetaArg::Text(t) => t.render(),
            MetaArg::Object {
                leading_spaces,
                body,
            } => format!(
                "{}{{\"k\": \"{}\"}}",
                " ".repeat(usize::from(*leading_spaces % 4)),
                body.render()
            ),
            MetaArg::Sized { key, delta } => {
                let bytes = delta.apply(validate::META_MAX_BYTES);
                let key: String = key
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .take(64)
                    .collect();
                let head = format!("{{\"{key}\": \"");
                format!("{head}{}\"}}", "x".repeat(bytes - head.len() - 2))
            }
        }
    }
}

#[derive(Arbitrary, Debug)]
enum TimestampArg {
    NegInfinity,
    At(i64),
    Infinity,
}

impl TimestampArg {
    fn to_core(&self) -> Timestamp {
        match *self {
            TimestampArg::NegInfinity => Timestamp::NegInfinity,
            TimestampArg::At(t) => Timestamp::At(t),
            TimestampArg::Infinity => Timestamp::Infinity,
        }
    }
}

/// An interval as PostgreSQL hands it over: months, days, microseconds.
#[derive(Arbitrary, Debug, Clone, Copy)]
struct Interval {
    months: i32,
    days: i32,
    micros: i64,
}

impl Interval {
    /// Months count as 30 days and days as 24 hours (SPEC, as PostgreSQL
    /// compares intervals).
    fn total(self) -> i128 {
        (i128::from(self.months) * 30 + i128::from(self.days)) * MICROS_PER_DAY
            + i128::from(self.micros)
    }
}

/// Everything `tokens.mint` validates, and the settings a token carries
/// afterwards (allowlist, rate limit, credit cap, rotation grace,
/// revocation reason).
#[derive(Arbitrary, Debug)]
struct MintArgs {
    name: Option<Text>,
    scopes: Option<List>,
    expires_at: Option<TimestampArg>,
    now: i64,
    kind: Option<Text>,
    owner: Text,
    meta: Option<MetaArg>,
    description: Option<Text>,
    reason: Option<Text>,
    allowed_ips: Option<List>,
    client: Option<IpAddr>,
    rate_requests: Option<i32>,
    rate_per: Option<Interval>,
    /// Clock readings handed to the rate-limit window, as offsets.
    arrivals: Vec<i32>,
    grace: Interval,
    /// `tokens.set_remaining(id, remaining, refill_amount, refill_every)`.
    remaining: Option<i64>,
    refill_amount: Option<i64>,
    refill_every: Option<Interval>,
    started_at: i64,
}

/// The token texts among the arguments: those put there, and any other that
/// fuzzer text happens to hold.
struct Secrets(Vec<String>);

impl Secrets {
    fn note(&mut self, text: &str) {
        // Every well-formed 36-byte window, even one glued to other text.
        for w in text.as_bytes().windows(36) {
            if pg_tokens_core::parse(w).is_some() {
                self.0
                    .push(String::from_utf8(w.to_vec()).expect("a token is ASCII"));
            }
        }
    }

    /// A refusal: the right SQLSTATE, and no token in its message.
    fn refused(&self, rule: &str, e: &Error) {
        assert_eq!(e.sqlstate().code(), "22023", "{rule}: {e}");
        let message = e.to_string();
        let debug = format!("{e:?}");
        assert!(!message.is_empty(), "{rule}: an empty message");
        for secret in &self.0 {
            assert!(
                !message.contains(secret.as_str()),
                "{rule} echoed a token: {message}"
            );
            assert!(
                !debug.contains(secret.as_str()),
                "{rule} echoed a token: {debug}"
            );
        }
    }
}

/// A label (name, owner, actor, description): 1 to `max` characters, none
/// of them a control character.
fn label_ok(value: &str, max: usize) -> bool {
    let count = value.chars().count();
    (1..=max).contains(&count) && !value.chars().any(char::is_control)
}

/// A scope: 1 to 40 characters matching `^[a-z][a-z0-9.:_-]*$`.
fn scope_ok(value: &str) -> bool {
    let mut chars = value.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    first_ok
        && value.chars().count() <= 40
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".:_-".contains(c))
}

/// A network in cidr form as the docs put it: an address and a prefix length
/// with no bits set right of the mask (10.0.0.0/8, 2001:db8::/32), or a bare
/// address. `strict` reads it with the standard library, which refuses
/// leading zeros (010.0.0.0/8, 10.0.0.0/08); otherwise they are read as
/// PostgreSQL's cidr input reads them, as decimal.
fn network_ok(text: &str, strict: bool) -> bool {
    let (addr, len) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (text, None),
    };
    let addr = if strict {
        addr.to_owned()
    } else {
        no_leading_zeros(addr)
    };
    let Ok(ip) = addr.parse::<IpAddr>() else {
        return false;
    };
    let max = max_len(ip);
    let len = match len {
        None => max,
        Some(l) => {
            let l = if strict {
                l.to_owned()
            } else {
                no_leading_zeros(l)
            };
            let canonical = l.parse::<u8>().ok().filter(|n| n.to_string() == l);
            match canonical {
                Some(n) if n <= max => n,
                _ => return false,
            }
        }
    };
    masked(ip, len) == ip
}

/// Leading zeros dropped from the decimal parts of a network: the octets of
/// a dotted quad (alone or ending an IPv6 address) and a prefix length.
fn no_leading_zeros(text: &str) -> String {
    let decimal = |s: &str| {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return s.to_owned();
        }
        let parts: Vec<&str> = s
            .split('.')
            .map(|n| match n.trim_start_matches('0') {
                "" if !n.is_empty() => "0",
                t => t,
            })
            .collect();
        parts.join(".")
    };
    match text.rsplit_once(':') {
        Some((head, tail)) => format!("{head}:{}", decimal(tail)),
        None => decimal(text),
    }
}

/// Runs one rule: an acceptance must satisfy `accepted`, a refusal must be
/// expected (`!should_accept`) and clean.
fn check<T: std::fmt::Debug>(
    secrets: &Secrets,
    rule: &str,
    result: Result<T, Error>,
    should_accept: bool,
    accepted: impl FnOnce(T),
) {
    match result {
        Ok(v) => {
            assert!(
                should_accept,
                "{rule} accepted what its rule refuses: {v:?}"
            );
            accepted(v);
        }
        Err(e) => {
            assert!(!should_accept, "{rule} refused what its rule allows: {e}");
            secrets.refused(rule, &e);
        }
    }
}

fuzz_target!(|args: MintArgs| {
    let name = args.name.as_ref().map(Text::render);
    let scopes = args.scopes.as_ref().map(List::render);
    let kind = args.kind.as_ref().map(Text::render);
    let owner = args.owner.render();
    let meta = args.meta.as_ref().map(MetaArg::render);
    let description = args.description.as_ref().map(Text::render);
    let reason = args.reason.as_ref().map(Text::render);
    let allowed = args.allowed_ips.as_ref().map(List::render);

    let mut secrets = Secrets(Vec::new());
    let lists = scopes.iter().chain(allowed.iter()).flatten().flatten();
    for text in [&name, &kind, &meta, &description, &reason]
        .into_iter()
        .flatten()
        .chain([&owner])
        .chain(lists)
    {
        secrets.note(text);
    }

    // name: 1 to 80 characters, no control characters; NULL refused.
    let name_ok = name
        .as_deref()
        .is_some_and(|n| label_ok(n, validate::NAME_MAX));
    check(
        &secrets,
        "name",
        validate::name(name.as_deref()),
        name_ok,
        |v| {
            assert_eq!(Some(v.as_str()), name.as_deref());
        },
    );

    // owner, and an actor named like it: the same rule.
    let owner_ok = label_ok(&owner, validate::OWNER_MAX);
    check(&secrets, "owner", validate::owner(&owner), owner_ok, |v| {
        assert_eq!(v, owner)
    });
    check(&secrets, "actor", validate::actor(&owner), owner_ok, |v| {
        assert_eq!(v, owner)
    });

    // kind: 'service' or 'personal', nothing else (not even another case).
    let kind_ok = matches!(kind.as_deref(), Some("service" | "personal"));
    check(
        &secrets,
        "kind",
        validate::kind(kind.as_deref()),
        kind_ok,
        |k: Kind| {
            assert_eq!(Some(k.as_str()), kind.as_deref());
        },
    );

    // scopes: NULL is full access; else at most 16 distinct valid scopes.
    let scopes_ok = match &scopes {
        None => true,
        Some(items) => {
            items.len() <= validate::SCOPES_MAX
                && items
                    .iter()
                    .enumerate()
                    .all(|(i, s)| s.as_deref().is_some_and(scope_ok) && !items[..i].contains(s))
        }
    };
    check(
        &secrets,
        "scopes",
        validate::scopes(scopes.as_deref()),
        scopes_ok,
        |v| {
            let expected = scopes
                .as_ref()
                .map(|items| items.iter().flatten().cloned().collect::<Vec<_>>());
            assert_eq!(v, expected);
        },
    );
    for s in scopes.iter().flatten().flatten() {
        check(&secrets, "scope", validate::scope(s), scope_ok(s), |()| {});
    }

    // expires_at: NULL or infinity never expires; else strictly after now.
    let expiry = args.expires_at.as_ref().map(TimestampArg::to_core);
    let expiry_ok = match expiry {
        None | Some(Timestamp::Infinity) => true,
        Some(Timestamp::At(t)) => t > args.now,
        Some(Timestamp::NegInfinity) => false,
    };
    check(
        &secrets,
        "expires_at",
        validate::expires_at(expiry, args.now),
        expiry_ok,
        |v| match expiry {
            Some(Timestamp::At(t)) => assert_eq!(v, Some(t)),
            _ => assert_eq!(v, None),
        },
    );

    // meta: NULL, or a JSON object of at most 4096 bytes of jsonb text.
    let meta_ok = meta
        .as_deref()
        .is_none_or(|m| m.trim_start().starts_with('{') && m.len() <= validate::META_MAX_BYTES);
    check(
        &secrets,
        "meta",
        validate::token_meta(meta.as_deref()),
        meta_ok,
        |v| {
            assert_eq!(v, meta.as_deref());
        },
    );

    // description: NULL, or a label of 1 to 200 characters.
    let description_ok = description
        .as_deref()
        .is_none_or(|d| label_ok(d, validate::DESCRIPTION_MAX));
    check(
        &secrets,
        "description",
        validate::description(description.as_deref()),
        description_ok,
        |v| assert_eq!(v, description),
    );

    // reason: NULL, or at most 200 characters (of any kind).
    let reason_ok = reason
        .as_deref()
        .is_none_or(|r| r.chars().count() <= validate::REASON_MAX);
    check(
        &secrets,
        "reason",
        validate::reason(reason.as_deref()),
        reason_ok,
        |v| assert_eq!(v, reason),
    );

    // allowed: NULL clears; else 1 to 64 networks, none NULL.
    // Every entry a network in cidr form; leading zeros are neither required
    // to be accepted nor to be refused.
    let allowed_shape = |strict: bool| {
        allowed.as_ref().is_none_or(|items| {
            (1..=allowlist::ALLOWLIST_MAX).contains(&items.len())
                && items
                    .iter()
                    .all(|n| n.as_deref().is_some_and(|n| network_ok(n, strict)))
        })
    };
    let (must_accept, may_accept) = (allowed_shape(true), allowed_shape(false));
    let result = allowlist::allowed_ips(allowed.as_deref());
    let allowed_ok = match result {
        Ok(_) => may_accept,
        Err(_) => must_accept,
    };
    check(&secrets, "allowed", result, allowed_ok, |v| {
        let expected = allowed
            .as_ref()
            .map(|items| items.iter().flatten().cloned().collect::<Vec<_>>());
        assert_eq!(v, expected);
    });
    // Whatever the list holds, judging a client never panics; a list naming
    // the client's own address admits it, and a socket client needs loopback.
    let list: Vec<String> = allowed.iter().flatten().flatten().cloned().collect();
    let admitted = allowlist::permits(&list, args.client);
    let names_client = match args.client {
        Some(ip) => list.contains(&ip.to_string()),
        None => list.iter().any(|n| n == "127.0.0.1" || n == "::1"),
    };
    assert!(
        !names_client || admitted,
        "{list:?} refuses {:?}",
        args.client
    );
    if let Some(ip) = args.client {
        let mut own = list.clone();
        own.push(format!("{ip}/{}", if ip.is_ipv4() { 32 } else { 128 }));
        assert!(
            allowlist::permits(&own, Some(ip)),
            "{ip} not admitted by its /32 or /128"
        );
    }

    // Rate limit: NULL requests clears it; else requests >= 1 per 1 s to 1 day.
    let per = args.rate_per.map(|p| (p.months, p.days, p.micros));
    let rate_ok = match args.rate_requests {
        None => true,
        Some(r) => {
            r >= 1
                && args
                    .rate_per
                    .is_some_and(|p| (MICROS_PER_SECOND..=MICROS_PER_DAY).contains(&p.total()))
        }
    };
    let mut limit = None;
    check(
        &secrets,
        "rate_limit",
        usage::rate_limit(args.rate_requests, per),
        rate_ok,
        |v| match args.rate_requests {
            None => assert_eq!(v, None),
            Some(r) => {
                let l = v.expect("a rate limit");
                assert_eq!(i64::from(l.requests), i64::from(r));
                assert_eq!(i128::from(l.per_micros), args.rate_per.unwrap().total());
                limit = Some(l);
            }
        },
    );
    // A window never admits more than the limit before it closes.
    if let Some(
        limit @ RateLimit {
            requests,
            per_micros,
        },
    ) = limit
    {
        let mut window = RateWindow::default();
        let mut now = args.now;
        for step in args.arrivals.iter().take(1_000) {
            now = now.saturating_add(i64::from(*step));
            let before = window;
            let ok = window.admit(limit, now);
            assert!(window.admitted <= requests, "{window:?} over {requests}");
            if ok {
                assert!(window.admitted >= 1);
            } else {
                assert_eq!(window, before, "a refusal changed the window");
                assert_eq!(before.admitted, requests, "refused below the limit");
            }
            let _ = window.closed(per_micros, now);
        }
    }

    // Credits: NULL remaining (and no refill) removes the cap; else
    // remaining >= 0, and a refill is an amount >= 0 every 1 s to 3650 days,
    // both given or neither.
    let every = args.refill_every.map(|i| (i.months, i.days, i.micros));
    let expected_cap = match (args.remaining, args.refill_amount, args.refill_every) {
        (None, None, None) => Some(None),
        (None, _, _) => None,
        (Some(r), _, _) if r < 0 => None,
        (Some(r), None, None) => Some(Some(Cap {
            remaining: r,
            refill: None,
        })),
        (Some(r), Some(amount), Some(i))
            if amount >= 0 && (MICROS_PER_SECOND..=3650 * MICROS_PER_DAY).contains(&i.total()) =>
        {
            Some(Some(Cap {
                remaining: r,
                refill: Some(Refill {
                    amount,
                    every_micros: i.total() as i64,
                }),
            }))
        }
        _ => None,
    };
    check(
        &secrets,
        "set_remaining",
        credits::cap(args.remaining, args.refill_amount, every),
        expected_cap.is_some(),
        |v| {
            assert_eq!(Some(v), expected_cap);
            // A cap's periods: never negative, and the period holding now
            // ends after now (when now - started_at is an i64 at all).
            if let Some(cap) = v {
                let period = cap.period_at(args.started_at, args.now);
                assert!(period >= 0, "{cap:?} period {period}");
                let end = cap.period_end(args.started_at, period);
                if args.now.checked_sub(args.started_at).is_some() {
                    assert!(
                        end > args.now || end == i64::MAX,
                        "{cap:?} period {period} ends at {end}"
                    );
                }
                assert!(cap.credits_in(period) >= 0);
            }
        },
    );

    // Rotation grace: 0 to 30 days.
    let g = args.grace;
    let grace_ok = (0..=30 * MICROS_PER_DAY).contains(&g.total());
    check(
        &secrets,
        "grace",
        validate::grace(g.months, g.days, g.micros),
        grace_ok,
        |v| assert_eq!(i128::from(v), g.total()),
    );
});
