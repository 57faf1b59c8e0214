//! The audit log and its filter form.

use super::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditField {
    Action,
    Actor,
    Since,
    Until,
}

impl AuditField {
    pub(super) const ALL: [AuditField; 4] = [
        AuditField::Action,
        AuditField::Actor,
        AuditField::Since,
        AuditField::Until,
    ];
}

#[derive(Clone, Debug, PartialEq)]
pub struct AuditFilterForm {
    pub field: AuditField,
    pub action: TextInput,
    pub actor: TextInput,
    pub since: TextInput,
    pub until: TextInput,
}

impl AuditFilterForm {
    pub fn new(filter: &AuditFilter) -> AuditFilterForm {
        AuditFilterForm {
            field: AuditField::Action,
            action: TextInput::new(filter.action.as_str()),
            actor: TextInput::new(filter.actor.as_str()),
            since: TextInput::new(filter.since.as_str()),
            until: TextInput::new(filter.until.as_str()),
        }
    }

    /// The filter as typed so far.
    pub fn draft(&self) -> AuditFilter {
        AuditFilter {
            action: self.action.to_string(),
            actor: self.actor.to_string(),
            since: self.since.to_string(),
            until: self.until.to_string(),
        }
    }

    pub fn input(&self, field: AuditField) -> &TextInput {
        match field {
            AuditField::Action => &self.action,
            AuditField::Actor => &self.actor,
            AuditField::Since => &self.since,
            AuditField::Until => &self.until,
        }
    }

    fn input_mut(&mut self) -> &mut TextInput {
        match self.field {
            AuditField::Action => &mut self.action,
            AuditField::Actor => &mut self.actor,
            AuditField::Since => &mut self.since,
            AuditField::Until => &mut self.until,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct AuditView {
    pub feed: Feed<AuditEvent>,
    pub filter: AuditFilter,
    pub editing: Option<AuditFilterForm>,
}

impl App {
    pub(super) fn load_audit(&mut self, ask: PageAsk) -> Vec<Effect> {
        let gen = self.next_gen();
        self.audit.feed.begin(gen, ask);
        let query = AuditQuery {
            filter: self.audit.filter.clone(),
            before: ask.before,
            after: ask.after,
            limit: PAGE,
        };
        vec![Effect::Db(Request::Audit {
            gen,
            query,
            follow: false,
        })]
    }

    /// In follow mode: the poll for audit events newer than those shown.
    pub(super) fn poll_audit(&mut self) -> Vec<Effect> {
        let Some((gen, after)) = self.audit.feed.poll() else {
            return vec![];
        };
        let query = AuditQuery {
            filter: self.audit.filter.clone(),
            before: None,
            after: Some(after),
            limit: PAGE,
        };
        vec![Effect::Db(Request::Audit {
            gen,
            query,
            follow: true,
        })]
    }

    pub(super) fn update_audit(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::ToggleFollow => {
                let reload = self.audit.feed.toggle_follow();
                if self.audit.feed.follow {
                    self.info("follow: new audit events appear at the top as they happen");
                } else {
                    self.info("follow off");
                }
                reload.map(|ask| self.load_audit(ask)).unwrap_or_default()
            }
            Action::EditAuditFilter => {
                self.audit.editing = Some(AuditFilterForm::new(&self.audit.filter));
                vec![]
            }
            Action::Back => {
                if self.audit.filter != AuditFilter::default() {
                    self.audit.filter = AuditFilter::default();
                    return self.load_audit(PageAsk::NEWEST);
                }
                vec![]
            }
            a => match self.audit.feed.navigate(&a) {
                Some(ask) => self.load_audit(ask),
                None => vec![],
            },
        }
    }

    pub(super) fn update_audit_filter(&mut self, action: Action) -> Vec<Effect> {
        let Some(form) = self.audit.editing.as_mut() else {
            return vec![];
        };
        match action {
            Action::NextField | Action::PrevField => {
                form.field = next_field(&AuditField::ALL, form.field, &action)
            }
            Action::Cancel => self.audit.editing = None,
            Action::Submit => {
                self.audit.filter = form.draft();
                self.audit.editing = None;
                self.audit.feed.selected = 0;
                self.audit.feed.newer = false;
                return self.load_audit(PageAsk::NEWEST);
            }
            a => {
                edit(form.input_mut(), &a);
            }
        }
        vec![]
    }

    pub(super) fn on_audit_reply(&mut self, reply: Reply) -> Vec<Effect> {
        match reply {
            Reply::Audit {
                gen,
                follow,
                result,
            } => self.audit.feed.on_page(gen, follow, result),
            Reply::AuditChecked(Ok(verdict)) => self.audit_alarm = verdict.alarm(),
            Reply::AuditChecked(Err(e)) => {
                self.error(format!("audit checkpoints not checked: {e}"))
            }
            _ => {}
        }
        vec![]
    }
}
