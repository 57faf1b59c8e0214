//! The confirm dialogs (revoke, rotate, disable, enable) and the once-only card.

use super::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfirmOp {
    Revoke,
    Rotate,
    Disable,
    Enable,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Confirm {
    pub op: ConfirmOp,
    pub token: Token,
    /// The console's role is not the owner.
    pub not_owner: bool,
    /// Offered only to members of tokens_revoker/tokens_writer.
    pub may_act_for_owner: bool,
    pub act_for_owner: bool,
    pub reason: TextInput,
    pub grace: usize,
    pub error: Option<DbError>,
    pub busy: bool,
}

/// The once-only card: the plaintext, until the user closes it.
#[derive(Clone, Debug, PartialEq)]
pub struct OnceCard {
    pub minted: Minted,
    /// Prefix of the token this one replaces (rotate).
    pub replaces: Option<String>,
    pub copied: bool,
}

impl App {
    pub(super) fn open_confirm(&mut self, op: ConfirmOp) -> Vec<Effect> {
        let Some(token) = self.focused_token() else {
            return vec![];
        };
        let not_owner = token.owner != self.session.role;
        self.modal = Some(Modal::Confirm(Confirm {
            op,
            not_owner,
            may_act_for_owner: not_owner && self.session.may_act_for_owner(),
            act_for_owner: false,
            token,
            reason: TextInput::default(),
            grace: 0,
            error: None,
            busy: false,
        }));
        vec![]
    }

    /// Disable an enabled token or enable a disabled one, after a
    /// confirmation; offered only when the server would allow it.
    pub(super) fn open_disable(&mut self) -> Vec<Effect> {
        let Some(token) = self.focused_token() else {
            return vec![];
        };
        let enable = token.disabled_at.is_some();
        if !self.session.may_set_limits(&token) {
            self.error(format!(
                "{} {} needs tokens_writer, or tokens_self_service on your own personal token (you are {}; it is a {} token of {})",
                if enable { "enabling" } else { "disabling" },
                token.prefix,
                self.session.role,
                token.kind,
                token.owner
            ));
            return vec![];
        }
        self.modal = Some(Modal::Confirm(Confirm {
            op: if enable {
                ConfirmOp::Enable
            } else {
                ConfirmOp::Disable
            },
            not_owner: false,
            may_act_for_owner: false,
            act_for_owner: false,
            token,
            reason: TextInput::default(),
            grace: 0,
            error: None,
            busy: false,
        }));
        vec![]
    }

    pub(super) fn update_confirm(
        &mut self,
        mut c: Confirm,
        action: Action,
    ) -> (Option<Modal>, Vec<Effect>) {
        if c.busy {
            return (Some(Modal::Confirm(c)), vec![]);
        }
        match action {
            Action::Cancel => (None, vec![]),
            Action::Toggle => {
                if c.may_act_for_owner {
                    c.act_for_owner = !c.act_for_owner;
                }
                (Some(Modal::Confirm(c)), vec![])
            }
            Action::Left if c.op == ConfirmOp::Rotate => {
                c.grace = (c.grace + GRACES.len() - 1) % GRACES.len();
                (Some(Modal::Confirm(c)), vec![])
            }
            Action::Right if c.op == ConfirmOp::Rotate => {
                c.grace = (c.grace + 1) % GRACES.len();
                (Some(Modal::Confirm(c)), vec![])
            }
            Action::Input(_) if c.op != ConfirmOp::Revoke => (Some(Modal::Confirm(c)), vec![]),
            Action::Input(_) if c.reason.chars().count() >= 200 => {
                (Some(Modal::Confirm(c)), vec![])
            }
            Action::Submit => {
                c.busy = true;
                c.error = None;
                let actor = if c.act_for_owner {
                    Some(c.token.owner.clone())
                } else {
                    None
                };
                let id = c.token.id;
                let req = match c.op {
                    ConfirmOp::Revoke => Request::Revoke {
                        id,
                        actor,
                        reason: Some(c.reason.trim().to_owned()).filter(|r| !r.is_empty()),
                    },
                    ConfirmOp::Rotate => Request::Rotate {
                        id,
                        grace: GRACES[c.grace].1.to_owned(),
                        actor,
                    },
                    ConfirmOp::Disable | ConfirmOp::Enable => Request::SetDisabled {
                        id,
                        disabled: c.op == ConfirmOp::Disable,
                    },
                };
                (Some(Modal::Confirm(c)), vec![Effect::Db(req)])
            }
            a => {
                edit(&mut c.reason, &a);
                (Some(Modal::Confirm(c)), vec![])
            }
        }
    }

    pub(super) fn update_card(
        &mut self,
        mut card: OnceCard,
        action: Action,
    ) -> (Option<Modal>, Vec<Effect>) {
        match action {
            Action::Copy => {
                card.copied = true;
                let secret = card.minted.token.clone();
                (Some(Modal::Card(card)), vec![Effect::Copy(secret)])
            }
            Action::Submit => {
                self.info(format!(
                    "token {} created; its plaintext is gone from this console",
                    card.minted.prefix
                ));
                (None, vec![])
            }
            _ => (Some(Modal::Card(card)), vec![]),
        }
    }

    pub(super) fn on_confirm_reply(&mut self, reply: Reply) -> Vec<Effect> {
        match reply {
            Reply::DisabledSet {
                id,
                disabled,
                result,
            } => {
                let modal = self.modal.take();
                match result {
                    Ok(done) => {
                        let prefix = token_prefix(&modal).unwrap_or_default();
                        self.info(match (disabled, done) {
                            (true, true) => format!("disabled {prefix}: verify answers disabled until it is enabled (d)"),
                            (false, true) => format!("enabled {prefix}: it verifies again (unless revoked or expired)"),
                            (true, false) => format!("{prefix} was already disabled: nothing changed"),
                            (false, false) => format!("{prefix} was already enabled: nothing changed"),
                        });
                        return self.changed(id);
                    }
                    Err(e) => self.refused(modal, e),
                }
            }
            Reply::Revoked { id, result } => {
                let modal = self.modal.take();
                match result {
                    Ok(done) => {
                        let prefix = token_prefix(&modal).unwrap_or_default();
                        if done {
                            self.info(format!("revoked {prefix}: it no longer verifies"));
                        } else {
                            self.info(format!("{prefix} was already revoked: nothing changed"));
                        }
                        return self.changed(id);
                    }
                    Err(e) => self.refused(modal, e),
                }
            }
            Reply::Rotated { id, result } => {
                let modal = self.modal.take();
                match result {
                    Ok(m) => {
                        let replaces = token_prefix(&modal);
                        self.modal = Some(Modal::Card(OnceCard {
                            minted: m,
                            replaces,
                            copied: false,
                        }));
                        return self.changed(id);
                    }
                    Err(e) => self.refused(modal, e),
                }
            }
            _ => {}
        }
        vec![]
    }

    pub(super) fn refused(&mut self, modal: Option<Modal>, e: DbError) {
        match modal {
            Some(Modal::Confirm(mut c)) => {
                c.busy = false;
                c.error = Some(e);
                self.modal = Some(Modal::Confirm(c));
            }
            other => {
                self.modal = other;
                self.error(e.to_string());
            }
        }
    }
}

pub(super) fn token_prefix(modal: &Option<Modal>) -> Option<String> {
    match modal {
        Some(Modal::Confirm(c)) => Some(c.token.prefix.clone()),
        _ => None,
    }
}
