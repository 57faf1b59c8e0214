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

/// Meta as typed: None when empty (no meta, or clear it), the text itself
/// when it parses as a JSON object, else what is wrong with it. The size
/// limit (4096 bytes of the server's jsonb text) is the server's to check.
pub fn meta_json(text: &str) -> Result<Option<String>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        format!("not valid JSON: {e} (a JSON object like {{\"plan\": \"pro\"}}; empty = no meta)")
    })?;
    let kind = match &value {
        serde_json::Value::Object(_) => return Ok(Some(text.to_owned())),
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Null => "null",
    };
    Err(format!(
        "meta must be a JSON object like {{\"plan\": \"pro\"}}, not {kind} (empty = no meta)"
    ))
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
