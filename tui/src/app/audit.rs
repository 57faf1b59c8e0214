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

#[derive(Clone, Debug, PartialEq)]
pub struct AuditView {
    pub rows: Vec<AuditEvent>,
    pub selected: usize,
    pub filter: AuditFilter,
    pub editing: Option<AuditFilterForm>,
    pub follow: bool,
    /// Pages newer than this one exist (we paged down).
    pub newer: bool,
    pub older: bool,
    pub loading: bool,
    pub loaded: bool,
    pub error: Option<DbError>,
    pub(super) gen: u64,
    pub(super) polling: bool,
    pub(super) land_bottom: bool,
}

impl Default for AuditView {
    fn default() -> Self {
        AuditView {
            rows: Vec::new(),
            selected: 0,
            filter: AuditFilter::default(),
            editing: None,
            follow: false,
            newer: false,
            older: false,
            loading: false,
            loaded: false,
            error: None,
            gen: 0,
            polling: false,
            land_bottom: false,
        }
    }
}

impl App {
    pub(super) fn load_audit(
        &mut self,
        before: Option<i64>,
        after: Option<i64>,
        bottom: bool,
    ) -> Vec<Effect> {
        let gen = self.next_gen();
        self.audit.gen = gen;
        self.audit.loading = true;
        self.audit.land_bottom = bottom;
        let query = AuditQuery {
            filter: self.audit.filter.clone(),
            before,
            after,
            limit: PAGE,
        };
        vec![Effect::Db(Request::Audit {
            gen,
            query,
            follow: false,
        })]
    }

    pub(super) fn update_audit(&mut self, action: Action) -> Vec<Effect> {
        let n = self.audit.rows.len();
        match action {
            Action::Down | Action::Scroll(1..) => {
                let step = if let Action::Scroll(d) = action {
                    d as usize
                } else {
                    1
                };
                if self.audit.selected + step >= n {
                    if self.audit.older && !self.audit.loading {
                        let before = self.audit.rows.last().map(|e| e.id);
                        let mut fx = self.load_audit(before, None, false);
                        self.audit.newer = true;
                        self.audit.follow = false;
                        fx.truncate(1);
                        return fx;
                    }
                    self.audit.selected = n.saturating_sub(1);
                } else {
                    self.audit.selected += step;
                }
                vec![]
            }
            Action::Up | Action::Scroll(..=-1) => {
                let step = if let Action::Scroll(d) = action {
                    (-d) as usize
                } else {
                    1
                };
                if self.audit.selected < step {
                    if self.audit.newer && !self.audit.loading {
                        let after = self.audit.rows.first().map(|e| e.id);
                        return self.load_audit(None, after, true);
                    }
                    self.audit.selected = 0;
                } else {
                    self.audit.selected -= step;
                }
                vec![]
            }
            Action::NextPage => {
                if self.audit.older {
                    let before = self.audit.rows.last().map(|e| e.id);
                    self.audit.newer = true;
                    self.audit.follow = false;
                    return self.load_audit(before, None, false);
                }
                vec![]
            }
            Action::PrevPage => {
                if self.audit.newer {
                    let after = self.audit.rows.first().map(|e| e.id);
                    return self.load_audit(None, after, true);
                }
                vec![]
            }
            Action::Top => {
                self.audit.selected = 0;
                if self.audit.newer {
                    return self.load_audit(None, None, false);
                }
                vec![]
            }
            Action::Bottom => {
                self.audit.selected = n.saturating_sub(1);
                vec![]
            }
            Action::ToggleFollow => {
                self.audit.follow = !self.audit.follow;
                if self.audit.follow {
                    self.info("follow: new audit events appear at the top as they happen");
                    if self.audit.newer {
                        self.audit.selected = 0;
                        return self.load_audit(None, None, false);
                    }
                } else {
                    self.info("follow off");
                }
                vec![]
            }
            Action::EditAuditFilter => {
                self.audit.editing = Some(AuditFilterForm::new(&self.audit.filter));
                vec![]
            }
            Action::Back => {
                if self.audit.filter != AuditFilter::default() {
                    self.audit.filter = AuditFilter::default();
                    return self.load_audit(None, None, false);
                }
                vec![]
            }
            _ => vec![],
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
                self.audit.selected = 0;
                self.audit.newer = false;
                return self.load_audit(None, None, false);
            }
            a => {
                edit(form.input_mut(), &a);
            }
        }
        vec![]
    }

    pub(super) fn on_audit(
        &mut self,
        gen: u64,
        follow: bool,
        result: Result<Vec<AuditEvent>, DbError>,
    ) -> Vec<Effect> {
        let a = &mut self.audit;
        if follow {
            a.polling = false;
            if gen != a.gen || !a.follow {
                return vec![];
            }
            if let Ok(new) = result {
                if !new.is_empty() {
                    let added = new.len();
                    let mut rows = new;
                    rows.append(&mut a.rows);
                    if rows.len() > PAGE as usize {
                        rows.truncate(PAGE as usize);
                        a.older = true;
                    }
                    a.rows = rows;
                    if a.selected > 0 {
                        a.selected = (a.selected + added).min(a.rows.len() - 1);
                    }
                }
            }
            return vec![];
        }
        if gen != a.gen {
            return vec![];
        }
        a.loading = false;
        match result {
            Ok(rows) => {
                let n = rows.len();
                a.error = None;
                a.loaded = true;
                if a.land_bottom {
                    // A newer page: its rows, with the newest first.
                    a.newer = n as i64 >= PAGE;
                    a.older = true;
                    a.selected = n.saturating_sub(1);
                } else {
                    a.older = n as i64 >= PAGE;
                    a.selected = a.selected.min(n.saturating_sub(1));
                    if a.newer && a.rows.first().map(|e| e.id) == rows.first().map(|e| e.id) {
                        a.newer = false;
                    }
                }
                if n == 0 && a.land_bottom {
                    a.newer = false;
                    return vec![];
                }
                a.rows = rows;
            }
            Err(e) if e.is_connection_lost() => {}
            Err(e) => {
                a.error = Some(e);
                a.loaded = true;
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
            } => return self.on_audit(gen, follow, result),
            Reply::AuditChecked(Ok(verdict)) => self.audit_alarm = verdict.alarm(),
            Reply::AuditChecked(Err(e)) => {
                self.error(format!("audit checkpoints not checked: {e}"))
            }
            _ => {}
        }
        vec![]
    }
}
