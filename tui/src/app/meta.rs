//! The meta form: a token's JSON object.

use super::*;

/// `tokens.set_meta` for one token: a JSON object typed over several
/// lines; empty clears the meta.
#[derive(Clone, Debug, PartialEq)]
pub struct MetaForm {
    pub token: Token,
    pub text: TextInput,
    /// What the last `token.meta` audit event set, as the form shows it
    /// ("unknown" when the history has none).
    pub current: String,
    pub may_set: bool,
    pub error: Option<DbError>,
    pub busy: bool,
}

impl MetaForm {
    /// The call this form describes, or why the text is not a JSON object.
    /// The text goes to the server as typed (it casts it to jsonb).
    pub fn request(&self) -> Result<Request, String> {
        Ok(Request::SetMeta {
            id: self.token.id,
            meta: meta_json(&self.text)?,
        })
    }
}

impl App {
    pub(super) fn update_meta(
        &mut self,
        mut f: MetaForm,
        action: Action,
    ) -> (Option<Modal>, Vec<Effect>) {
        if f.busy {
            return (Some(Modal::Meta(f)), vec![]);
        }
        match action {
            Action::Cancel => return (None, vec![]),
            Action::Submit => match f.request() {
                Ok(req) => {
                    f.busy = true;
                    f.error = None;
                    return (Some(Modal::Meta(f)), vec![Effect::Db(req)]);
                }
                Err(why) => f.error = Some(DbError::Client(why)),
            },
            a => {
                edit(&mut f.text, &a);
            }
        }
        (Some(Modal::Meta(f)), vec![])
    }
}
