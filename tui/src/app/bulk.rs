//! Marks in the tokens list and the bulk revoke of the marked rows.

use super::*;

/// The bulk revoke dialog: how many, then one line per row once done.
#[derive(Clone, Debug, PartialEq)]
pub struct BulkRevoke {
    /// The marked tokens, in the order they were marked.
    pub targets: Vec<Token>,
    /// How many of them the console's role does not own.
    pub others: usize,
    /// Offered only to members of tokens_revoker/tokens_writer.
    pub may_act_for_owner: bool,
    pub act_for_owner: bool,
    pub busy: bool,
    /// One outcome per target, in order, once the server answered.
    pub results: Option<Vec<BulkOutcome>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BulkOutcome {
    pub prefix: String,
    /// True revoked, false it was already revoked.
    pub result: Result<bool, DbError>,
}

impl BulkRevoke {
    pub fn failed(&self) -> usize {
        self.results
            .iter()
            .flatten()
            .filter(|o| o.result.is_err())
            .count()
    }
}

impl App {
    /// Space on a row: marks it, or unmarks it. Only live (active or
    /// disabled) tokens can be marked: there is nothing to revoke in the others.
    pub(super) fn toggle_mark(&mut self) -> Vec<Effect> {
        let Some(t) = self.tokens.selected_token().cloned() else {
            return vec![];
        };
        if let Some(i) = self.tokens.marked.iter().position(|m| m.id == t.id) {
            self.tokens.marked.remove(i);
        } else if matches!(t.status.as_str(), "active" | "disabled") {
            self.tokens.marked.push(t);
        } else {
            self.error(format!(
                "{} is {}: only active or disabled tokens can be marked for revoke",
                t.prefix, t.status
            ));
            return vec![];
        }
        // The mark moves the selection on, so Space Space marks two rows.
        self.move_token_selection(1)
    }

    pub(super) fn open_bulk_revoke(&mut self) -> Vec<Effect> {
        if self.tokens.marked.is_empty() {
            self.error("no rows marked: Space marks the selected row, X revokes the marked rows");
            return vec![];
        }
        let others = self
            .tokens
            .marked
            .iter()
            .filter(|t| t.owner != self.session.role)
            .count();
        self.modal = Some(Modal::BulkRevoke(BulkRevoke {
            targets: self.tokens.marked.clone(),
            others,
            may_act_for_owner: others > 0 && self.session.may_act_for_owner(),
            act_for_owner: false,
            busy: false,
            results: None,
        }));
        vec![]
    }

    pub(super) fn update_bulk_revoke(
        &mut self,
        mut b: BulkRevoke,
        action: Action,
    ) -> (Option<Modal>, Vec<Effect>) {
        if b.busy {
            return (Some(Modal::BulkRevoke(b)), vec![]);
        }
        if b.results.is_some() {
            // The outcome is on screen: Enter or Esc closes it.
            return match action {
                Action::Submit | Action::Cancel => (None, vec![]),
                _ => (Some(Modal::BulkRevoke(b)), vec![]),
            };
        }
        match action {
            Action::Cancel => (None, vec![]),
            Action::Toggle => {
                if b.may_act_for_owner {
                    b.act_for_owner = !b.act_for_owner;
                }
                (Some(Modal::BulkRevoke(b)), vec![])
            }
            Action::Submit => {
                b.busy = true;
                let role = self.session.role.clone();
                let targets = b
                    .targets
                    .iter()
                    .map(|t| {
                        let actor = (b.act_for_owner && t.owner != role).then(|| t.owner.clone());
                        (t.id, actor)
                    })
                    .collect();
                (
                    Some(Modal::BulkRevoke(b)),
                    vec![Effect::Db(Request::RevokeMany { targets })],
                )
            }
            _ => (Some(Modal::BulkRevoke(b)), vec![]),
        }
    }

    pub(super) fn on_bulk_reply(&mut self, reply: Reply) -> Vec<Effect> {
        let Reply::RevokedMany { results } = reply else {
            return vec![];
        };
        let Some(Modal::BulkRevoke(mut b)) = self.modal.take() else {
            return vec![];
        };
        let prefix_of = |id: Uuid| {
            b.targets
                .iter()
                .find(|t| t.id == id)
                .map(|t| t.prefix.clone())
                .unwrap_or_else(|| id.to_string())
        };
        let outcomes: Vec<BulkOutcome> = results
            .into_iter()
            .map(|(id, result)| BulkOutcome {
                prefix: prefix_of(id),
                result,
            })
            .collect();
        // Done rows lose their mark; refused ones keep it, to try again.
        let done: Vec<Uuid> = b
            .targets
            .iter()
            .zip(&outcomes)
            .filter(|(_, o)| o.result.is_ok())
            .map(|(t, _)| t.id)
            .collect();
        self.tokens.marked.retain(|t| !done.contains(&t.id));
        let failed = outcomes.iter().filter(|o| o.result.is_err()).count();
        let n = outcomes.len();
        b.busy = false;
        b.results = Some(outcomes);
        self.modal = Some(Modal::BulkRevoke(b));
        if failed == 0 {
            self.info(format!("revoked {n} marked tokens: they no longer verify"));
        } else {
            self.error(format!(
                "{failed} of {n} marked tokens refused by the server: {} marked",
                if failed == 1 { "it stays" } else { "they stay" }
            ));
        }
        self.refresh_tokens()
    }
}
