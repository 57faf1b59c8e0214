#![allow(dead_code)]
//! Fixed data for the screen and update tests: no database, a fixed clock.

use chrono::{DateTime, Duration, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use uuid::Uuid;

use tokens_console::action::{Action, Effect};
use tokens_console::app::App;
use tokens_console::db::model::{
    AuditEvent, Credits, Minted, RateLimit, Refill, Secret, Session, Token, TokenEvent, UsageBucket,
};
use tokens_console::db::queries::{Cursor, SortKey, TokenPage};
use tokens_console::db::Reply;

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 14, 12, 0, 0)
        .single()
        .expect("a valid time")
}

pub fn session() -> Session {
    Session {
        role: "alice".into(),
        database: "app".into(),
        extension_version: "0.2.0".into(),
        reader: true,
        writer: true,
        revoker: true,
        self_service: false,
        tls: None,
    }
}

pub fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x0195_8f3a_0000_7000_8000_0000_0000_0000 + n)
}

pub fn token(n: u128, name: &str, owner: &str, status: &str) -> Token {
    Token {
        id: id(n),
        prefix: format!("tbm_{:08}", n).chars().take(12).collect::<String>(),
        name: name.into(),
        kind: if owner.starts_with("group:") {
            "service"
        } else {
            "personal"
        }
        .into(),
        owner: owner.into(),
        scopes: if n % 3 == 0 {
            None
        } else {
            Some(vec!["deploy".into(), "read".into()])
        },
        expires_at: if n % 2 == 0 {
            Some(now() + Duration::days(30))
        } else {
            None
        },
        last_used_at: if n % 4 == 1 {
            Some(now() - Duration::hours(3))
        } else {
            None
        },
        created_at: now() - Duration::days(n as i64),
        revoked_at: if status == "revoked" {
            Some(now() - Duration::hours(1))
        } else {
            None
        },
        status: status.into(),
        disabled_at: (status == "disabled").then(|| now() - Duration::hours(2)),
        uses_24h: if n == 1 { 1234 } else { 0 },
        rate_limit: (n == 1).then_some(RateLimit {
            requests: 100,
            per_seconds: 60.0,
        }),
        allowed_ips: (n == 1).then(|| vec!["10.0.0.0/8".into(), "192.168.1.0/24".into()]),
        credits: (n == 1).then_some(Credits {
            remaining: 42,
            refill: Some(Refill {
                amount: 100,
                every_seconds: 3600.0,
            }),
        }),
        badges: Default::default(),
    }
}

/// 24 hourly buckets ending at `now()`: a day's traffic with a few refusals.
pub fn usage_day() -> Vec<UsageBucket> {
    (0..24)
        .map(|i| UsageBucket {
            bucket_start: now() - Duration::hours(23 - i),
            count: [0, 0, 1, 3, 8, 20, 45, 80, 120, 90, 60, 40][(i % 12) as usize] * (1 + i / 12),
            denied: if i == 20 {
                7
            } else if i == 21 {
                1
            } else {
                0
            },
        })
        .collect()
}

pub fn sample_tokens() -> Vec<Token> {
    vec![
        token(1, "ci deploy bot", "group:platform", "active"),
        token(2, "billing exporter", "group:finance", "active"),
        token(3, "alice laptop", "alice", "active"),
        token(4, "old webhook", "group:platform", "revoked"),
        token(5, "nightly backup", "group:ops", "expired"),
        token(6, "evil\x1b[2Jname\u{202e}", "group:x", "active"),
    ]
}

pub fn page(rows: Vec<Token>, has_next: bool) -> TokenPage {
    let cursor = |t: &Token| Cursor {
        key: SortKey::Micros(t.created_at.timestamp_micros()),
        id: t.id,
    };
    TokenPage {
        first: rows.first().map(cursor),
        last: rows.last().map(cursor),
        rows,
        has_prev: false,
        has_next,
    }
}

pub fn minted() -> Minted {
    Minted {
        token: Secret::new("tbm_3KVNsn-zEVWQ3IzOXQxfe3e3AvQOx7Wz".into()),
        id: id(42),
        prefix: "tbm_3KVNsn-z".into(),
        name: "ci deploy bot".into(),
        kind: "service".into(),
        owner: "group:platform".into(),
        scopes: Some(vec!["deploy".into()]),
        expires_at: Some(now() + Duration::days(90)),
        created_at: now(),
    }
}

pub fn audit_events() -> Vec<AuditEvent> {
    (1..=5)
        .rev()
        .map(|i| AuditEvent {
            id: i,
            at: now() - Duration::minutes(60 - i),
            actor: if i == 4 {
                "group:platform".into()
            } else {
                "alice".into()
            },
            db_role: "alice".into(),
            action: if i == 4 {
                "token.revoke".into()
            } else {
                "token.create".into()
            },
            target: Some(format!("token:{}", id(i as u128))),
            meta: Some(if i == 4 {
                serde_json::json!({"reason": "leaked"})
            } else {
                serde_json::json!({"name": "bot", "kind": "service"})
            }),
        })
        .collect()
}

/// Events 1..=5, newest first: one of each kind the server writes, one
/// of a token since deleted (no prefix).
pub fn token_events() -> Vec<TokenEvent> {
    let kinds = [
        (
            "token.expiring",
            serde_json::json!({"expires_at": "2025-03-20T12:00:00+00:00"}),
        ),
        (
            "token.rate_limited",
            serde_json::json!({"requests": 100, "per": "00:01:00"}),
        ),
        (
            "token.credits_low",
            serde_json::json!({"remaining": 4, "period_credits": 100}),
        ),
        (
            "token.revoked",
            serde_json::json!({"reason": "leaked", "actor": "alice"}),
        ),
        ("token.leaked", serde_json::json!({})),
    ];
    (1..=5)
        .rev()
        .map(|i| {
            let (kind, detail) = kinds[(i - 1) as usize].clone();
            TokenEvent {
                id: i,
                at: now() - Duration::minutes(60 - i),
                kind: kind.into(),
                token_id: Some(id(i as u128)),
                prefix: (i != 5).then(|| format!("tbm_{i:08}")),
                owner: Some("alice".into()),
                detail: Some(detail),
            }
        })
        .collect()
}

/// The events view opened on `app` and its first page answered with `rows`;
/// the request's gen.
pub fn show_events(app: &mut App, rows: Vec<TokenEvent>) -> u64 {
    let fx = key(app, KeyCode::Char('4'));
    let gen = match fx.first() {
        Some(Effect::Db(tokens_console::db::Request::Events {
            gen, follow: false, ..
        })) => *gen,
        other => panic!("expected an events request, got {other:?}"),
    };
    app.update(Action::Db(Reply::Events {
        gen,
        follow: false,
        result: Ok(rows),
    }));
    gen
}

/// A console with its first page loaded.
pub fn app_with(rows: Vec<Token>) -> App {
    let mut app = App::new(session(), "alice@/tmp:5432/app".into(), now());
    let fx = app.start();
    let gen = fx
        .iter()
        .find_map(|e| match e {
            Effect::Db(tokens_console::db::Request::Tokens { gen, .. }) => Some(*gen),
            _ => None,
        })
        .expect("the first page is requested");
    let n = rows.len() as i64;
    app.update(Action::Db(Reply::Tokens {
        gen,
        result: Ok(page(rows, false)),
    }));
    app.update(Action::Db(Reply::Count { gen, result: Ok(n) }));
    app
}

pub fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    key_mod(app, code, KeyModifiers::NONE)
}

pub fn key_mod(app: &mut App, code: KeyCode, m: KeyModifiers) -> Vec<Effect> {
    match tokens_console::event::action_for_key(app, KeyEvent::new(code, m)) {
        Some(a) => app.update(a),
        None => vec![],
    }
}

pub fn type_text(app: &mut App, s: &str) -> Vec<Effect> {
    let mut fx = vec![];
    for c in s.chars() {
        fx = key(app, KeyCode::Char(c));
    }
    fx
}

pub fn render(app: &App) -> TestBackend {
    render_at(app, 120, 30)
}

pub fn render_at(app: &App, width: u16, height: u16) -> TestBackend {
    let mut t = Terminal::new(TestBackend::new(width, height)).expect("a test terminal");
    t.draw(|f| tokens_console::ui::draw(f, app)).expect("draw");
    t.backend().clone()
}

/// Two well-formed tokens (not real ones) in a log excerpt, as pasted.
pub const LEAKED_A: &str = "tbm_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
pub const LEAKED_B: &str = "tbm_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";

pub fn leaked_log() -> String {
    format!(
        "2025-03-14 11:58:01 POST /deploy Authorization: Bearer {LEAKED_A}\n\
         2025-03-14 11:58:02 retrying with {LEAKED_B} (from .env)\n"
    )
}

/// What `tokens.find_leaked` answers for a text with six tokens in it:
/// three active (one with control characters in its owner and name).
pub fn leak_rows() -> Vec<tokens_console::db::model::Leak> {
    use tokens_console::db::model::Leak;
    let row = |n: u128, status: &str, owner: Option<&str>, name: Option<&str>| Leak {
        prefix: format!("tbm_{:08}", n),
        token_id: owner.map(|_| id(n)),
        status: status.into(),
        owner: owner.map(str::to_owned),
        name: name.map(str::to_owned),
    };
    vec![
        row(1, "active", Some("group:platform"), Some("ci deploy bot")),
        row(2, "active", Some("bob"), Some("bob's laptop")),
        row(4, "revoked", Some("group:platform"), Some("old webhook")),
        row(5, "expired", Some("group:ops"), Some("nightly backup")),
        row(7, "unknown", None, None),
        row(
            6,
            "active",
            Some("group:x\x1b[2J"),
            Some("evil\x1b[2Jname\u{202e}"),
        ),
    ]
}
