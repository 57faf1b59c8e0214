//! The credits (usage cap) form.

use super::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreditField {
    Remaining,
    RefillAmount,
    RefillEvery,
}

impl CreditField {
    pub const ALL: [CreditField; 3] = [
        CreditField::Remaining,
        CreditField::RefillAmount,
        CreditField::RefillEvery,
    ];
}

/// `tokens.set_remaining` for one token: empty remaining removes the cap;
/// refill amount and refill every go together (both empty: no refill).
#[derive(Clone, Debug, PartialEq)]
pub struct CreditsForm {
    pub token: Token,
    pub field: CreditField,
    pub remaining: TextInput,
    pub refill_amount: TextInput,
    pub refill_every: TextInput,
    /// False when the session's grants say the server will refuse.
    pub may_set: bool,
    pub error: Option<DbError>,
    pub busy: bool,
}

impl CreditsForm {
    /// Prefilled from the token's cap: what is left now and its refill.
    pub fn new(token: Token, may_set: bool) -> CreditsForm {
        let (remaining, refill_amount, refill_every) = match &token.credits {
            None => Default::default(),
            Some(c) => match &c.refill {
                None => (c.remaining.to_string(), String::new(), String::new()),
                Some(r) => (
                    c.remaining.to_string(),
                    r.amount.to_string(),
                    per_text(r.every_seconds),
                ),
            },
        };
        CreditsForm {
            token,
            field: CreditField::Remaining,
            remaining: remaining.into(),
            refill_amount: refill_amount.into(),
            refill_every: refill_every.into(),
            may_set,
            error: None,
            busy: false,
        }
    }

    /// The call this form describes, or the field that is wrong and why.
    pub fn request(&self) -> Result<Request, (CreditField, String)> {
        credits_call(
            self.token.id,
            &self.remaining,
            &self.refill_amount,
            &self.refill_every,
        )
    }

    pub(super) fn text_mut(&mut self) -> &mut TextInput {
        match self.field {
            CreditField::Remaining => &mut self.remaining,
            CreditField::RefillAmount => &mut self.refill_amount,
            CreditField::RefillEvery => &mut self.refill_every,
        }
    }
}

/// `tokens.set_remaining` as typed in the credits form (or given to the
/// `set-remaining` subcommand), or the field that is wrong and why.
/// Numbers are checked to be whole numbers; their range and the refill
/// interval are the server's to check.
pub fn credits_call(
    id: Uuid,
    remaining: &str,
    refill_amount: &str,
    refill_every: &str,
) -> Result<Request, (CreditField, String)> {
    let whole = |field, text: &str| {
        text.parse::<i64>().map_err(|_| {
            (
                field,
                if field == CreditField::Remaining {
                    "remaining must be a whole number of credits, 0 or more, e.g. 1000 (empty removes the cap)"
                } else {
                    "refill amount must be a whole number of credits, 0 or more, e.g. 100 (empty, with every empty too: no refill)"
                }
                .to_owned(),
            )
        })
    };
    let remaining = remaining.trim();
    if remaining.is_empty() {
        return Ok(Request::SetRemaining {
            id,
            remaining: None,
            refill_amount: None,
            refill_every: None,
        });
    }
    let remaining = whole(CreditField::Remaining, remaining)?;
    let every = per_interval(refill_every);
    let refill = match (refill_amount.trim(), every.as_str()) {
        ("", "") => None,
        ("", _) => {
            return Err((
                CreditField::RefillAmount,
                "refill amount is needed with refill every: the credits each period starts with (or empty both for no refill)".into(),
            ))
        }
        (_, "") => {
            return Err((
                CreditField::RefillEvery,
                "refill every is needed with a refill amount: from 1 second to 3650 days, e.g. 1 hour (or empty both for no refill)".into(),
            ))
        }
        (amount, _) => Some((
            whole(CreditField::RefillAmount, amount)?,
            every,
        )),
    };
    let (refill_amount, refill_every) = refill.unzip();
    Ok(Request::SetRemaining {
        id,
        remaining: Some(remaining),
        refill_amount,
        refill_every,
    })
}

/// The credits-form field a server refusal is about, to put the cursor
/// there; None leaves it where it is (a missing grant, an unknown token).
pub fn credit_field_of_error(e: &DbError) -> Option<CreditField> {
    let DbError::Server {
        sqlstate, message, ..
    } = e
    else {
        return None;
    };
    let m = message.to_lowercase();
    if sqlstate.starts_with("22007")
        || sqlstate.starts_with("22008")
        || sqlstate.starts_with("22015")
        || m.contains("interval")
        || (m.contains("refill_every") && !m.contains("refill_amount"))
    {
        Some(CreditField::RefillEvery)
    } else if m.contains("refill_amount") {
        Some(CreditField::RefillAmount)
    } else if m.contains("remaining") || sqlstate == "22003" {
        Some(CreditField::Remaining)
    } else {
        None
    }
}

impl App {
    pub(super) fn update_credits(
        &mut self,
        mut f: CreditsForm,
        action: Action,
    ) -> (Option<Modal>, Vec<Effect>) {
        if f.busy {
            return (Some(Modal::Credits(f)), vec![]);
        }
        let fields = CreditField::ALL;
        let i = fields.iter().position(|x| *x == f.field).unwrap_or(0);
        match action {
            Action::Cancel => return (None, vec![]),
            Action::NextField => f.field = fields[(i + 1) % fields.len()],
            Action::PrevField => f.field = fields[(i + fields.len() - 1) % fields.len()],
            Action::Left | Action::Right if f.field == CreditField::RefillEvery => {
                f.refill_every.set(cycle_preset(
                    &REFILL_PRESETS,
                    &f.refill_every,
                    action == Action::Right,
                    0,
                ));
            }
            Action::Submit => match f.request() {
                Ok(req) => {
                    f.busy = true;
                    f.error = None;
                    return (Some(Modal::Credits(f)), vec![Effect::Db(req)]);
                }
                Err((field, why)) => {
                    f.field = field;
                    f.error = Some(DbError::Client(why));
                }
            },
            a => {
                edit(f.text_mut(), &a);
            }
        }
        (Some(Modal::Credits(f)), vec![])
    }
}
