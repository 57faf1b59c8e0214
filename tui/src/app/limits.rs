//! The rate-limit and allowlist forms, and what a limit form's reply does.

use super::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateField {
    Requests,
    Per,
}

/// `tokens.set_rate_limit` for one token: empty requests clears the limit.
#[derive(Clone, Debug, PartialEq)]
pub struct RateLimitForm {
    pub token: Token,
    pub field: RateField,
    pub requests: TextInput,
    pub per: TextInput,
    /// False when the session's grants say the server will refuse.
    pub may_set: bool,
    pub error: Option<DbError>,
    pub busy: bool,
}

impl RateLimitForm {
    /// The call this form describes, or what is wrong with the input.
    pub fn request(&self) -> Result<Request, String> {
        let requests = self.requests.trim();
        if requests.is_empty() {
            return Ok(Request::SetRateLimit {
                id: self.token.id,
                requests: None,
                per: None,
            });
        }
        let n: i32 = requests.parse().map_err(|_| {
            format!(
                "requests must be a whole number from 1 to {}, e.g. 100 (empty clears the limit)",
                i32::MAX
            )
        })?;
        let per = per_interval(&self.per);
        if per.is_empty() {
            return Err("per is needed: a window from 1 second to 1 day, e.g. 1 minute".into());
        }
        Ok(Request::SetRateLimit {
            id: self.token.id,
            requests: Some(n),
            per: Some(per),
        })
    }
}

/// A window in seconds as the forms show it: "1 minute", "2 hours".
pub use crate::text::per_text;

/// `tokens.set_allowed_ips` for one token: empty clears the allowlist.
#[derive(Clone, Debug, PartialEq)]
pub struct AllowlistForm {
    pub token: Token,
    /// Comma- or space-separated CIDRs.
    pub text: TextInput,
    pub may_set: bool,
    pub error: Option<DbError>,
    pub busy: bool,
}

impl AllowlistForm {
    /// The entries typed; None (clear) when there are none.
    pub fn entries(&self) -> Option<Vec<String>> {
        typed_list(&self.text)
    }
}

impl App {
    pub(super) fn update_rate_limit(
        &mut self,
        mut f: RateLimitForm,
        action: Action,
    ) -> (Option<Modal>, Vec<Effect>) {
        if f.busy {
            return (Some(Modal::RateLimit(f)), vec![]);
        }
        match action {
            Action::Cancel => return (None, vec![]),
            Action::NextField | Action::PrevField => {
                f.field = match f.field {
                    RateField::Requests => RateField::Per,
                    RateField::Per => RateField::Requests,
                }
            }
            Action::Left | Action::Right if f.field == RateField::Per => {
                f.per.set(cycle_preset(
                    &PER_PRESETS,
                    &f.per,
                    action == Action::Right,
                    1,
                ));
            }
            Action::Submit => match f.request() {
                Ok(req) => {
                    f.busy = true;
                    f.error = None;
                    return (Some(Modal::RateLimit(f)), vec![Effect::Db(req)]);
                }
                Err(why) => {
                    f.field = if f.requests.trim().parse::<i32>().is_err() {
                        RateField::Requests
                    } else {
                        RateField::Per
                    };
                    f.error = Some(DbError::Client(why));
                }
            },
            a => {
                edit(
                    match f.field {
                        RateField::Requests => &mut f.requests,
                        RateField::Per => &mut f.per,
                    },
                    &a,
                );
            }
        }
        (Some(Modal::RateLimit(f)), vec![])
    }

    pub(super) fn update_allowlist(
        &mut self,
        mut f: AllowlistForm,
        action: Action,
    ) -> (Option<Modal>, Vec<Effect>) {
        if f.busy {
            return (Some(Modal::Allowlist(f)), vec![]);
        }
        match action {
            Action::Cancel => return (None, vec![]),
            Action::Submit => {
                f.busy = true;
                f.error = None;
                let req = Request::SetAllowedIps {
                    id: f.token.id,
                    allowed: f.entries(),
                };
                return (Some(Modal::Allowlist(f)), vec![Effect::Db(req)]);
            }
            a => {
                edit(&mut f.text, &a);
            }
        }
        (Some(Modal::Allowlist(f)), vec![])
    }

    /// A rate limit, allowlist, credit cap or meta was set (the detail and
    /// the list are read again), or refused (the form stays open with the
    /// server's message; the credits form puts the cursor on the field it
    /// is about).
    pub(super) fn on_limit_set(&mut self, id: Uuid, result: Result<(), DbError>) -> Vec<Effect> {
        let modal = self.modal.take();
        match (modal, result) {
            (Some(Modal::RateLimit(mut f)), Err(e)) => {
                f.busy = false;
                f.error = Some(e);
                self.modal = Some(Modal::RateLimit(f));
                vec![]
            }
            (Some(Modal::Allowlist(mut f)), Err(e)) => {
                f.busy = false;
                f.error = Some(e);
                self.modal = Some(Modal::Allowlist(f));
                vec![]
            }
            (Some(Modal::Credits(mut f)), Err(e)) => {
                f.busy = false;
                f.field = credit_field_of_error(&e).unwrap_or(f.field);
                f.error = Some(e);
                self.modal = Some(Modal::Credits(f));
                vec![]
            }
            (Some(Modal::Meta(mut f)), Err(e)) => {
                f.busy = false;
                f.error = Some(e);
                self.modal = Some(Modal::Meta(f));
                vec![]
            }
            (other, Err(e)) => {
                self.modal = other;
                self.error(e.to_string());
                vec![]
            }
            (other, Ok(())) => {
                let done = match &other {
                    Some(Modal::RateLimit(f)) => Some(match f.requests.trim() {
                        "" => format!("rate limit of {} cleared", f.token.prefix),
                        n => format!(
                            "rate limit of {} set: {n} per {}",
                            f.token.prefix,
                            per_interval(&f.per)
                        ),
                    }),
                    Some(Modal::Allowlist(f)) => Some(match f.entries() {
                        None => format!(
                            "allowlist of {} cleared: it verifies from anywhere",
                            f.token.prefix
                        ),
                        Some(_) => format!("allowlist of {} set", f.token.prefix),
                    }),
                    Some(Modal::Credits(f)) => Some(match f.request() {
                        Ok(Request::SetRemaining {
                            remaining: Some(n),
                            refill_amount,
                            refill_every,
                            ..
                        }) => format!(
                            "credits of {} set: {n} left{}",
                            f.token.prefix,
                            match (refill_amount, refill_every) {
                                (Some(a), Some(e)) => format!(", refill {a} every {e}"),
                                _ => ", no refill".to_owned(),
                            }
                        ),
                        _ => format!(
                            "credit cap of {} removed: it no longer runs out of credits",
                            f.token.prefix
                        ),
                    }),
                    Some(Modal::Meta(f)) => Some(if f.text.trim().is_empty() {
                        format!("meta of {} cleared", f.token.prefix)
                    } else {
                        format!("meta of {} set: verify returns it", f.token.prefix)
                    }),
                    _ => {
                        self.modal = other;
                        None
                    }
                };
                if let Some(text) = done {
                    self.info(text);
                }
                self.changed(id)
            }
        }
    }
}
