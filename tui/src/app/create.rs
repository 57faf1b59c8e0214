//! The create (mint) form.

use super::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormField {
    Name,
    Kind,
    Owner,
    Scopes,
    Expiry,
    Custom,
    /// Optional: a JSON object verify returns.
    Meta,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CreateForm {
    pub field: FormField,
    pub name: TextInput,
    pub personal: bool,
    pub owner: TextInput,
    /// Free text (comma separated) when the catalogue is empty.
    pub scopes_text: TextInput,
    /// One flag per catalogue entry when it has entries.
    pub picked: Vec<bool>,
    pub scope_cursor: usize,
    pub expiry: usize,
    pub custom: TextInput,
    /// JSON object, one line; empty = no meta.
    pub meta: TextInput,
    pub error: Option<DbError>,
    pub busy: bool,
}

impl CreateForm {
    pub fn fields(&self) -> Vec<FormField> {
        let mut f = vec![
            FormField::Name,
            FormField::Kind,
            FormField::Owner,
            FormField::Scopes,
            FormField::Expiry,
        ];
        if EXPIRY_PRESETS[self.expiry] == "custom" {
            f.push(FormField::Custom);
        }
        f.push(FormField::Meta);
        f
    }

    pub(super) fn text_mut(&mut self) -> Option<&mut TextInput> {
        match self.field {
            FormField::Name => Some(&mut self.name),
            FormField::Owner => Some(&mut self.owner),
            FormField::Scopes if self.picked.is_empty() => Some(&mut self.scopes_text),
            FormField::Custom => Some(&mut self.custom),
            FormField::Meta => Some(&mut self.meta),
            _ => None,
        }
    }

    /// The mint call this form describes, or why its meta is not a JSON object.
    pub fn request(&self, catalogue: &[ScopeEntry]) -> Result<MintRequest, String> {
        let meta = meta_json(&self.meta)?;
        let scopes = if self.picked.is_empty() {
            typed_list(&self.scopes_text)
        } else {
            let list: Vec<String> = catalogue
                .iter()
                .zip(&self.picked)
                .filter(|(_, p)| **p)
                .map(|(s, _)| s.scope.clone())
                .collect();
            if list.is_empty() {
                None
            } else {
                Some(list)
            }
        };
        let expiry = match EXPIRY_PRESETS[self.expiry] {
            "never" => Expiry::Never,
            "custom" => Expiry::At(self.custom.trim().to_owned()),
            span => Expiry::In(span.to_owned()),
        };
        let owner = Some(self.owner.trim())
            .filter(|o| !o.is_empty())
            .map(str::to_owned);
        Ok(MintRequest {
            name: self.name.to_string(),
            kind: if self.personal { "personal" } else { "service" }.to_owned(),
            owner,
            scopes,
            expiry,
            meta,
        })
    }
}

impl App {
    pub(super) fn open_create_form(&mut self) -> Vec<Effect> {
        // A self-service role may mint only personal tokens of its own.
        let personal = self.session.self_service && !self.session.writer;
        self.modal = Some(Modal::Create(CreateForm {
            field: FormField::Name,
            name: TextInput::default(),
            personal,
            owner: TextInput::default(),
            scopes_text: TextInput::default(),
            picked: vec![false; self.scopes.len()],
            scope_cursor: 0,
            expiry: 2,
            custom: TextInput::default(),
            meta: TextInput::default(),
            error: None,
            busy: false,
        }));
        vec![]
    }

    pub(super) fn update_create(
        &mut self,
        mut f: CreateForm,
        action: Action,
    ) -> (Option<Modal>, Vec<Effect>) {
        if f.busy {
            return (Some(Modal::Create(f)), vec![]);
        }
        match action {
            Action::Cancel => return (None, vec![]),
            Action::NextField | Action::PrevField => {
                f.field = next_field(&f.fields(), f.field, &action)
            }
            Action::Left | Action::Right => {
                let forward = action == Action::Right;
                match f.field {
                    FormField::Kind => f.personal = !f.personal,
                    FormField::Expiry => {
                        let n = EXPIRY_PRESETS.len();
                        f.expiry = if forward {
                            (f.expiry + 1) % n
                        } else {
                            (f.expiry + n - 1) % n
                        };
                    }
                    FormField::Scopes if !f.picked.is_empty() => {
                        let n = f.picked.len();
                        f.scope_cursor = if forward {
                            (f.scope_cursor + 1) % n
                        } else {
                            (f.scope_cursor + n - 1) % n
                        };
                    }
                    _ => {
                        if let Some(t) = f.text_mut() {
                            edit(t, &action);
                        }
                    }
                }
            }
            Action::Toggle => match f.field {
                FormField::Scopes if !f.picked.is_empty() => {
                    if let Some(p) = f.picked.get_mut(f.scope_cursor) {
                        *p = !*p;
                    }
                }
                FormField::Kind => f.personal = !f.personal,
                _ => {
                    if let Some(t) = f.text_mut() {
                        edit(t, &action);
                    }
                }
            },
            Action::Submit => match f.request(&self.scopes) {
                Ok(req) => {
                    f.busy = true;
                    f.error = None;
                    return (Some(Modal::Create(f)), vec![Effect::Db(Request::Mint(req))]);
                }
                Err(why) => {
                    f.field = FormField::Meta;
                    f.error = Some(DbError::Client(why));
                }
            },
            a => {
                if let Some(t) = f.text_mut() {
                    edit(t, &a);
                }
            }
        }
        (Some(Modal::Create(f)), vec![])
    }

    pub(super) fn on_create_reply(&mut self, reply: Reply) -> Vec<Effect> {
        match reply {
            Reply::Scopes(Ok(s)) => self.scopes = s,
            Reply::Scopes(Err(_)) => {} // no catalogue to pick from: scopes are typed
            Reply::Minted(result) => {
                let Some(Modal::Create(mut f)) = self.modal.take() else {
                    // The form was closed meanwhile: still show what was made.
                    if let Ok(m) = result {
                        self.modal = Some(Modal::Card(OnceCard {
                            minted: m,
                            replaces: None,
                            copied: false,
                        }));
                    }
                    return self.refresh_tokens();
                };
                f.busy = false;
                match result {
                    Ok(m) => {
                        self.modal = Some(Modal::Card(OnceCard {
                            minted: m,
                            replaces: None,
                            copied: false,
                        }));
                        return self.reload_tokens();
                    }
                    Err(e) => {
                        f.field = field_of_error(&e).unwrap_or(f.field);
                        f.error = Some(e);
                        self.modal = Some(Modal::Create(f));
                    }
                }
            }
            _ => {}
        }
        vec![]
    }
}

/// The form field a server error is about, to put the cursor there.
pub(super) fn field_of_error(e: &DbError) -> Option<FormField> {
    // A date or time the server could not read is the expiry; anything
    // else by the argument the server names.
    if e.sqlstate()
        .is_some_and(|s| s.starts_with("22007") || s.starts_with("22008"))
    {
        return Some(FormField::Expiry);
    }
    match e.argument()? {
        "expires_at" => Some(FormField::Expiry),
        "meta" => Some(FormField::Meta),
        "scopes" => Some(FormField::Scopes),
        "owner" => Some(FormField::Owner),
        "kind" => Some(FormField::Kind),
        "name" => Some(FormField::Name),
        _ => None,
    }
}
