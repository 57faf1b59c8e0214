//! The credits (usage cap) form.

use super::*;

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

/// `tokens.set_remaining` as typed in the credits form, or the field that
/// is wrong and why (`parse::credits`).
pub fn credits_call(
    id: Uuid,
    remaining: &str,
    refill_amount: &str,
    refill_every: &str,
) -> Result<Request, (CreditField, String)> {
    let c = crate::parse::credits(remaining, refill_amount, refill_every)?;
    Ok(Request::SetRemaining {
        id,
        remaining: c.remaining,
        refill_amount: c.refill_amount,
        refill_every: c.refill_every,
    })
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

/// The credits-form field a server refusal is about, to put the cursor
/// there; None leaves it where it is (a missing grant, an unknown token).
pub fn credit_field_of_error(e: &DbError) -> Option<CreditField> {
    // An interval the server could not read or hold is the refill period,
    // a number out of range the credits; anything else by the argument
    // the server names.
    match e.sqlstate()? {
        s if s.starts_with("22007") || s.starts_with("22008") || s.starts_with("22015") => {
            return Some(CreditField::RefillEvery)
        }
        "22003" => return Some(CreditField::Remaining),
        _ => {}
    }
    match e.argument()? {
        "remaining" => Some(CreditField::Remaining),
        "refill_amount" => Some(CreditField::RefillAmount),
        "refill_every" => Some(CreditField::RefillEvery),
        _ => None,
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
        match action {
            Action::Cancel => return (None, vec![]),
            Action::NextField | Action::PrevField => {
                f.field = next_field(&CreditField::ALL, f.field, &action)
            }
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
