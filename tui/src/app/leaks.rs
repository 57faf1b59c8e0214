//! The leak triage screen and its revoke-every-live-one dialog.

use super::*;

/// The reason the leak screen's revokes record in the audit log.
pub const LEAK_REASON: &str = "leak";

/// The leak triage screen: a pasted text, checked by `tokens.find_leaked`.
///
/// The text is never drawn (only its size), never logged (`Secret`), and
/// wiped when the user leaves the screen; until then it is kept to check
/// again after a revoke.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Leaks {
    pub text: Secret,
    /// Keys go to the text area.
    pub editing: bool,
    /// `text` is what the results were found in.
    pub checked: bool,
    pub rows: Vec<Leak>,
    pub selected: usize,
    pub loading: bool,
    pub loaded: bool,
    pub error: Option<DbError>,
    /// What the last "revoke every live one" did.
    pub summary: Option<LeakSummary>,
    pub(super) gen: u64,
}

impl Leaks {
    /// The rows still live: what "revoke every live one" revokes.
    pub fn live(&self) -> Vec<RevokeTarget> {
        self.rows.iter().filter_map(Leak::revoke_target).collect()
    }

    pub(super) fn wipe(&mut self) {
        self.text.clear();
        self.checked = false;
    }
}

/// The outcome of revoking the live tokens of a leak, token by token.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LeakSummary {
    /// Prefixes revoked now.
    pub revoked: Vec<String>,
    /// Prefixes someone revoked meanwhile (revoke returned false).
    pub already: Vec<String>,
    /// Prefix and what the server said.
    pub errors: Vec<(String, DbError)>,
}

/// The confirmation before revoking every live token of a leak.
#[derive(Clone, Debug, PartialEq)]
pub struct RevokeLeaks {
    pub targets: Vec<RevokeTarget>,
    /// Found but left alone (revoked, expired, unknown...): (status, count).
    pub left_alone: Vec<(String, usize)>,
    pub busy: bool,
}

impl App {
    /// Leaving the leak screen wipes the pasted text; the results (no
    /// plaintext in them) stay for when the user comes back.
    pub(super) fn leave_leaks(&mut self) {
        if self.view == View::Leaks {
            self.leaks.wipe();
            self.leaks.editing = false;
        }
    }

    /// The leak screen's text area has the keys (or a paste arrived).
    pub(super) fn update_leak_text(&mut self, action: Action) -> Vec<Effect> {
        let l = &mut self.leaks;
        if !l.editing {
            // A paste on the results: a new text to check.
            l.editing = true;
            if l.checked {
                l.wipe();
            }
        }
        match action {
            Action::Paste(p) => l.text.push_str(p.expose()),
            Action::Cancel => {
                if l.text.is_empty() {
                    l.editing = false;
                } else {
                    l.text.clear();
                }
            }
            Action::NextField => l.editing = false,
            Action::Submit => {
                if l.text.expose().trim().is_empty() {
                    self.error("nothing to check: paste or type the text first");
                    return vec![];
                }
                return self.check_leaks(true);
            }
            a => {
                if let Some(e) = edit_of(&a) {
                    l.text.edit(e);
                }
            }
        }
        vec![]
    }

    /// Sends the text to `tokens.find_leaked`; `fresh` for a new text
    /// (the last revoke summary goes), else a check again.
    pub(super) fn check_leaks(&mut self, fresh: bool) -> Vec<Effect> {
        if self.leaks.text.is_empty() {
            if self.leaks.loaded {
                self.info("the text was wiped when you left this screen: paste it again (e) to check it again");
            }
            return vec![];
        }
        let gen = self.next_gen();
        let l = &mut self.leaks;
        l.gen = gen;
        l.loading = true;
        l.editing = false;
        l.checked = true;
        if fresh {
            l.summary = None;
            l.selected = 0;
        }
        vec![Effect::Db(Request::FindLeaked {
            gen,
            text: l.text.clone(),
        })]
    }

    /// The leak screen's results have the keys.
    pub(super) fn update_leaks(&mut self, action: Action) -> Vec<Effect> {
        let n = self.leaks.rows.len();
        let l = &mut self.leaks;
        match action {
            Action::Down => l.selected = (l.selected + 1).min(n.saturating_sub(1)),
            Action::Up => l.selected = l.selected.saturating_sub(1),
            Action::Scroll(d) => {
                l.selected =
                    (l.selected as i64 + d as i64).clamp(0, n.saturating_sub(1) as i64) as usize
            }
            Action::Top | Action::PrevPage => l.selected = 0,
            Action::Bottom | Action::NextPage => l.selected = n.saturating_sub(1),
            Action::StartSearch => {
                if l.checked {
                    l.wipe();
                }
                l.editing = true;
            }
            Action::RevokeLeaks => return self.open_revoke_leaks(),
            _ => {}
        }
        vec![]
    }

    pub(super) fn open_revoke_leaks(&mut self) -> Vec<Effect> {
        if !self.session.revoker {
            self.error("revoking leaked tokens needs tokens_revoker: each one is revoked for its owner (actor => owner, reason 'leak')");
            return vec![];
        }
        if self.leaks.loading {
            self.info("still checking: wait for the results");
            return vec![];
        }
        let targets = self.leaks.live();
        if targets.is_empty() {
            self.info("no live (active or disabled) token in the results: nothing to revoke");
            return vec![];
        }
        let mut left_alone: Vec<(String, usize)> = Vec::new();
        for r in self
            .leaks
            .rows
            .iter()
            .filter(|r| r.revoke_target().is_none())
        {
            match left_alone.iter_mut().find(|(s, _)| *s == r.status) {
                Some((_, n)) => *n += 1,
                None => left_alone.push((r.status.clone(), 1)),
            }
        }
        self.modal = Some(Modal::RevokeLeaks(RevokeLeaks {
            targets,
            left_alone,
            busy: false,
        }));
        vec![]
    }

    pub(super) fn on_leaks_revoked(
        &mut self,
        results: Vec<(RevokeTarget, Result<bool, DbError>)>,
    ) -> Vec<Effect> {
        match self.modal.take() {
            Some(Modal::RevokeLeaks(_)) | None => {}
            other => self.modal = other,
        }
        let mut summary = LeakSummary::default();
        for (t, r) in results {
            match r {
                Ok(true) => summary.revoked.push(t.prefix),
                Ok(false) => summary.already.push(t.prefix),
                Err(e) => summary.errors.push((t.prefix, e)),
            }
        }
        let text = format!(
            "revoked {} leaked token{} for {} owner{} (reason 'leak'); {} already revoked; {} error{}",
            summary.revoked.len(),
            if summary.revoked.len() == 1 { "" } else { "s" },
            if summary.revoked.len() == 1 { "its" } else { "their" },
            if summary.revoked.len() == 1 { "" } else { "s" },
            summary.already.len(),
            summary.errors.len(),
            if summary.errors.len() == 1 { "" } else { "s" },
        );
        if summary.errors.is_empty() {
            self.info(text);
        } else {
            self.error(text);
        }
        self.leaks.summary = Some(summary);
        // Check again, so the table shows what the server now says.
        let mut fx = self.check_leaks(false);
        fx.extend(self.refresh_tokens());
        fx
    }

    pub(super) fn update_revoke_leaks(
        &mut self,
        mut r: RevokeLeaks,
        action: Action,
    ) -> (Option<Modal>, Vec<Effect>) {
        if r.busy {
            return (Some(Modal::RevokeLeaks(r)), vec![]);
        }
        match action {
            Action::Cancel => (None, vec![]),
            Action::Submit => {
                r.busy = true;
                let req = Request::RevokeForOwners {
                    targets: r.targets.clone(),
                    reason: LEAK_REASON.to_owned(),
                };
                (Some(Modal::RevokeLeaks(r)), vec![Effect::Db(req)])
            }
            _ => (Some(Modal::RevokeLeaks(r)), vec![]),
        }
    }

    pub(super) fn on_leaks_reply(&mut self, reply: Reply) -> Vec<Effect> {
        match reply {
            Reply::Leaks { gen, result } => {
                let l = &mut self.leaks;
                if gen != l.gen {
                    return vec![];
                }
                l.loading = false;
                match result {
                    Ok(rows) => {
                        l.selected = l.selected.min(rows.len().saturating_sub(1));
                        l.rows = rows;
                        l.error = None;
                        l.loaded = true;
                    }
                    Err(e) if e.is_connection_lost() => {}
                    Err(e) => {
                        l.rows.clear();
                        l.error = Some(e);
                        l.loaded = true;
                    }
                }
            }
            Reply::RevokedForOwners { results } => return self.on_leaks_revoked(results),
            _ => {}
        }
        vec![]
    }
}
