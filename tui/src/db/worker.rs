//! The worker thread: owns the connection, runs requests one at a time,
//! checks an idle connection, and reconnects with backoff when it is lost.
//! The UI thread never waits on it.

use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use postgres::Client;

use super::error::DbError;
use super::{queries, Reply, Request};
use crate::conn::Target;

/// How long the connection may go without a statement before it is
/// checked, so a lost one shows within this time. A connection in use
/// (follow mode polls every second) is not checked: its statements are the
/// check. An idle console sends only this check, one empty query each time.
pub const HEALTH_INTERVAL: Duration = Duration::from_secs(2);

/// Wait before reconnect attempt `attempt` (1-based): 0.5 s doubling to 8 s.
pub fn backoff(attempt: u32) -> Duration {
    let ms = 500u64.saturating_mul(1u64 << attempt.saturating_sub(1).min(4));
    Duration::from_millis(ms.min(8_000))
}

pub struct Worker {
    pub requests: Sender<Request>,
    pub handle: JoinHandle<()>,
}

/// Starts the worker on an open connection; replies go to `reply`. An
/// error when the thread cannot start: the caller (the main loop, the only
/// code that touches the terminal) restores the terminal and reports it.
pub fn spawn(
    target: Target,
    client: Client,
    reply: impl Fn(Reply) + Send + 'static,
) -> std::io::Result<Worker> {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::Builder::new()
        .name("tokens-console-db".into())
        .spawn(move || run(target, Some(client), rx, reply))
        .map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot start the database thread: {e}"))
        })?;
    Ok(Worker {
        requests: tx,
        handle,
    })
}

fn run(target: Target, mut client: Option<Client>, rx: Receiver<Request>, reply: impl Fn(Reply)) {
    let mut pending: VecDeque<Request> = VecDeque::new();
    let mut attempt = 0u32;
    let mut last_error = String::new();
    let mut last_used = Instant::now();
    loop {
        let Some(c) = client.as_mut() else {
            attempt += 1;
            let wait = backoff(attempt);
            reply(Reply::Reconnecting {
                attempt,
                retry_in: wait,
                error: last_error.clone(),
            });
            let deadline = Instant::now() + wait;
            // Until we are back, requests are answered "not connected" (the
            // UI reloads its views on reconnect; writes are never replayed).
            for req in pending.drain(..) {
                reply(fail(
                    req,
                    DbError::NotConnected(format!("not connected: {last_error}")),
                ));
            }
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                match rx.recv_timeout(left) {
                    Ok(req) => reply(fail(
                        req,
                        DbError::NotConnected(format!("not connected: {last_error}")),
                    )),
                    Err(RecvTimeoutError::Timeout) => break,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
            match target
                .connect()
                .and_then(|mut c| queries::session(&mut c).map(|s| (c, s)))
            {
                Ok((c, session)) => {
                    client = Some(c);
                    last_used = Instant::now();
                    attempt = 0;
                    reply(Reply::Reconnected { session });
                }
                Err(e) => last_error = e.to_string(),
            }
            continue;
        };
        let req = match pending.pop_front() {
            Some(r) => r,
            None => match rx.recv_timeout(HEALTH_INTERVAL.saturating_sub(last_used.elapsed())) {
                Ok(r) => r,
                Err(RecvTimeoutError::Timeout) => {
                    if last_used.elapsed() < HEALTH_INTERVAL {
                        continue;
                    }
                    last_used = Instant::now();
                    if let Err(e) = c.is_valid(Duration::from_secs(3)) {
                        last_error = DbError::from_pg(e, true).to_string();
                        client = None;
                        reply(Reply::ConnectionLost {
                            error: last_error.clone(),
                        });
                    }
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => return,
            },
        };
        // Take what else is queued and drop reads that a later request of
        // the same kind supersedes (typing a search sends one per key).
        pending.extend(rx.try_iter());
        if superseded(&req, &pending) {
            continue;
        }
        let answer = handle(c, req);
        last_used = Instant::now();
        if let Some(e) = answer.error().filter(|e| e.is_connection_lost()) {
            last_error = e.to_string();
            client = None;
            reply(answer);
            reply(Reply::ConnectionLost {
                error: last_error.clone(),
            });
            continue;
        }
        reply(answer);
    }
}

fn superseded(req: &Request, later: &VecDeque<Request>) -> bool {
    later.iter().any(|l| {
        matches!(
            (req, l),
            (Request::Tokens { .. }, Request::Tokens { .. })
                | (Request::Count { .. }, Request::Count { .. })
                | (
                    Request::Audit { follow: false, .. },
                    Request::Audit { follow: false, .. }
                )
                | (
                    Request::Events { follow: false, .. },
                    Request::Events { follow: false, .. }
                )
                | (Request::FindLeaked { .. }, Request::FindLeaked { .. })
        ) || matches!((req, l), (Request::Usage { id: a, .. }, Request::Usage { id: b, .. }) if a == b)
    })
}

fn handle(c: &mut Client, req: Request) -> Reply {
    match req {
        Request::Tokens { gen, query } => Reply::Tokens {
            gen,
            result: queries::token_page(c, &query),
        },
        Request::Count { gen, filter } => Reply::Count {
            gen,
            result: queries::token_count(c, &filter),
        },
        Request::Detail { id } => Reply::Detail {
            id,
            result: queries::token(c, id)
                .and_then(|t| queries::token_history(c, id, 200).map(|h| (t, h))),
        },
        Request::Usage { id, window } => Reply::Usage {
            id,
            window,
            result: queries::usage(c, id, window),
        },
        Request::Audit { gen, query, follow } => Reply::Audit {
            gen,
            follow,
            result: queries::audit_page(c, &query),
        },
        Request::Events { gen, query, follow } => Reply::Events {
            gen,
            follow,
            result: queries::events_page(c, &query),
        },
        Request::AckEvents { upto } => Reply::EventsAcked {
            upto,
            result: queries::ack_events(c, upto),
        },
        Request::Scopes => Reply::Scopes(queries::scopes(c)),
        Request::CheckAudit => Reply::AuditChecked(crate::checkpoints::check(c)),
        Request::Mint(m) => Reply::Minted(queries::mint(c, &m)),
        Request::Revoke { id, actor, reason } => Reply::Revoked {
            id,
            result: queries::revoke(c, id, actor.as_deref(), reason.as_deref()),
        },
        Request::Rotate { id, grace, actor } => Reply::Rotated {
            id,
            result: queries::rotate(c, id, &grace, actor.as_deref()),
        },
        Request::SetRateLimit { id, requests, per } => Reply::RateLimitSet {
            id,
            result: queries::set_rate_limit(c, id, requests, per.as_deref()),
        },
        Request::SetAllowedIps { id, allowed } => Reply::AllowedIpsSet {
            id,
            result: queries::set_allowed_ips(c, id, allowed.as_deref()),
        },
        Request::SetRemaining {
            id,
            remaining,
            refill_amount,
            refill_every,
        } => Reply::RemainingSet {
            id,
            result: queries::set_remaining(
                c,
                id,
                remaining,
                refill_amount,
                refill_every.as_deref(),
            ),
        },
        Request::SetDisabled { id, disabled } => Reply::DisabledSet {
            id,
            disabled,
            result: queries::set_disabled(c, id, disabled),
        },
        Request::SetMeta { id, meta } => Reply::MetaSet {
            id,
            result: queries::set_meta(c, id, meta.as_deref()),
        },
        Request::FindLeaked { gen, text } => Reply::Leaks {
            gen,
            result: queries::find_leaked(c, &text),
        },
        Request::RevokeMany { targets } => Reply::RevokedMany {
            results: queries::revoke_many(c, targets),
        },
        Request::RevokeForOwners { targets, reason } => Reply::RevokedForOwners {
            results: queries::revoke_for_owners(c, targets, &reason),
        },
    }
}

fn fail(req: Request, e: DbError) -> Reply {
    match req {
        Request::Tokens { gen, .. } => Reply::Tokens {
            gen,
            result: Err(e),
        },
        Request::Count { gen, .. } => Reply::Count {
            gen,
            result: Err(e),
        },
        Request::Detail { id } => Reply::Detail { id, result: Err(e) },
        Request::Usage { id, window } => Reply::Usage {
            id,
            window,
            result: Err(e),
        },
        Request::Audit { gen, follow, .. } => Reply::Audit {
            gen,
            follow,
            result: Err(e),
        },
        Request::Events { gen, follow, .. } => Reply::Events {
            gen,
            follow,
            result: Err(e),
        },
        Request::AckEvents { upto } => Reply::EventsAcked {
            upto,
            result: Err(e),
        },
        Request::Scopes => Reply::Scopes(Err(e)),
        Request::CheckAudit => Reply::AuditChecked(Err(e)),
        Request::Mint(_) => Reply::Minted(Err(e)),
        Request::Revoke { id, .. } => Reply::Revoked { id, result: Err(e) },
        Request::Rotate { id, .. } => Reply::Rotated { id, result: Err(e) },
        Request::SetRateLimit { id, .. } => Reply::RateLimitSet { id, result: Err(e) },
        Request::SetAllowedIps { id, .. } => Reply::AllowedIpsSet { id, result: Err(e) },
        Request::SetRemaining { id, .. } => Reply::RemainingSet { id, result: Err(e) },
        Request::SetDisabled { id, disabled } => Reply::DisabledSet {
            id,
            disabled,
            result: Err(e),
        },
        Request::SetMeta { id, .. } => Reply::MetaSet { id, result: Err(e) },
        Request::FindLeaked { gen, .. } => Reply::Leaks {
            gen,
            result: Err(e),
        },
        Request::RevokeMany { targets } => Reply::RevokedMany {
            results: targets
                .into_iter()
                .map(|(id, _)| (id, Err(e.clone())))
                .collect(),
        },
        Request::RevokeForOwners { targets, .. } => Reply::RevokedForOwners {
            results: targets.into_iter().map(|t| (t, Err(e.clone()))).collect(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_cap() {
        let waits: Vec<u64> = (1..=7).map(|a| backoff(a).as_millis() as u64).collect();
        assert_eq!(waits, [500, 1000, 2000, 4000, 8000, 8000, 8000]);
    }

    #[test]
    fn later_reads_supersede_earlier_ones_but_writes_never_do() {
        let q = |gen| Request::Count {
            gen,
            filter: Default::default(),
        };
        let later: VecDeque<Request> = [q(2)].into();
        assert!(superseded(&q(1), &later));
        let revoke = Request::Revoke {
            id: uuid::Uuid::nil(),
            actor: None,
            reason: None,
        };
        assert!(!superseded(&revoke, &[revoke.clone()].into()));
        assert!(!superseded(&Request::Scopes, &later));
    }

    #[test]
    fn a_later_leak_check_supersedes_an_earlier_one_but_revokes_never_are() {
        use crate::db::model::{RevokeTarget, Secret};
        let check = |gen| Request::FindLeaked {
            gen,
            text: Secret::new("text".into()),
        };
        assert!(superseded(&check(1), &[check(2)].into()));
        let revokes = Request::RevokeForOwners {
            targets: vec![RevokeTarget {
                id: uuid::Uuid::nil(),
                prefix: "tbm_00000000".into(),
                owner: "bob".into(),
                status: "active".into(),
            }],
            reason: "leak".into(),
        };
        assert!(!superseded(&revokes, &[revokes.clone(), check(3)].into()));
    }
}
