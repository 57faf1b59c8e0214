//! The detail pane of one token: its history and usage.

use super::*;

#[derive(Clone, Debug, PartialEq)]
pub struct Detail {
    pub token: Token,
    pub history: Vec<AuditEvent>,
    pub loading: bool,
    pub error: Option<DbError>,
    pub scroll: usize,
    pub window: UsageWindow,
    pub usage: Usage,
    pub usage_loading: bool,
    /// When the usage was last asked for (the clock of `App::now`).
    pub usage_asked: DateTime<Utc>,
}

impl Detail {
    /// The newest event that set the token's meta — a `token.meta`, or the
    /// `token.create` of a token minted (or rotated) with meta: the only way
    /// a reader sees a token's meta (the view has no meta; verify needs the
    /// plaintext). None when the history has none or could not be read.
    pub fn meta_event(&self) -> Option<&AuditEvent> {
        self.history.iter().find(|e| {
            e.action == "token.meta"
                || (e.action == "token.create"
                    && e.meta.as_ref().is_some_and(|m| m.get("meta").is_some()))
        })
    }

    /// The meta the last `token.meta` event set: Some(None) when it cleared it.
    pub fn last_meta(&self) -> Option<Option<&serde_json::Value>> {
        self.meta_event().map(|e| {
            e.meta
                .as_ref()
                .and_then(|m| m.get("meta"))
                .filter(|v| !v.is_null())
        })
    }
}

/// The detail pane's usage chart.
#[derive(Clone, Debug, PartialEq)]
pub enum Usage {
    Pending,
    Loaded(Vec<UsageBucket>),
    /// The server refused (42501): neither tokens_reader nor the owner.
    NotVisible,
    Failed(DbError),
}

impl App {
    /// A token changed: the list page again, and its detail if it is open.
    pub(super) fn changed(&mut self, id: Uuid) -> Vec<Effect> {
        let mut fx = self.refresh_tokens();
        if self.detail.as_ref().is_some_and(|d| d.token.id == id) {
            fx.extend(self.load_detail());
        }
        fx
    }

    pub(super) fn load_detail(&mut self) -> Vec<Effect> {
        match &mut self.detail {
            Some(d) => {
                d.loading = true;
                let mut fx = vec![Effect::Db(Request::Detail { id: d.token.id })];
                fx.extend(self.load_usage());
                fx
            }
            None => vec![],
        }
    }

    pub(super) fn load_usage(&mut self) -> Vec<Effect> {
        match &mut self.detail {
            Some(d) => {
                d.usage_loading = true;
                d.usage_asked = self.now;
                vec![Effect::Db(Request::Usage {
                    id: d.token.id,
                    window: d.window,
                })]
            }
            None => vec![],
        }
    }

    pub(super) fn update_detail(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Back | Action::Cancel => {
                self.view = View::Tokens;
                self.detail = None;
                vec![]
            }
            Action::Down | Action::Scroll(1..) => {
                if let Some(d) = &mut self.detail {
                    d.scroll = (d.scroll + 1).min(d.history.len().saturating_sub(1));
                }
                vec![]
            }
            Action::Up | Action::Scroll(..=-1) => {
                if let Some(d) = &mut self.detail {
                    d.scroll = d.scroll.saturating_sub(1);
                }
                vec![]
            }
            Action::Revoke => self.open_confirm(ConfirmOp::Revoke),
            Action::Rotate => self.open_confirm(ConfirmOp::Rotate),
            Action::ToggleDisabled => self.open_disable(),
            Action::EditMeta => {
                if let Some(d) = &self.detail {
                    let t = d.token.clone();
                    let (text, current) = match (&d.error, d.last_meta()) {
                        (Some(_), _) => (String::new(), "unknown: the audit log needs tokens_reader".to_owned()),
                        (None, Some(Some(m))) => (
                            serde_json::to_string_pretty(m).unwrap_or_default(),
                            m.to_string(),
                        ),
                        (None, Some(None)) => (String::new(), "none (cleared)".to_owned()),
                        (None, None) if d.loading => {
                            (String::new(), "unknown: the audit history is still loading".to_owned())
                        }
                        (None, None) => (
                            String::new(),
                            "unknown: not set since it was minted (only verify returns meta given to mint)".to_owned(),
                        ),
                    };
                    self.modal = Some(Modal::Meta(MetaForm {
                        may_set: self.session.may_set_trusted(),
                        token: t,
                        text: text.into(),
                        current,
                        error: None,
                        busy: false,
                    }));
                }
                vec![]
            }
            Action::ToggleUsageWindow => {
                if let Some(d) = &mut self.detail {
                    d.window = d.window.other();
                    d.usage = Usage::Pending;
                }
                self.load_usage()
            }
            Action::EditRateLimit => {
                if let Some(d) = &self.detail {
                    let t = d.token.clone();
                    let (requests, per) = match &t.rate_limit {
                        Some(l) => (l.requests.to_string(), per_text(l.per_seconds)),
                        None => (String::new(), "1 minute".to_owned()),
                    };
                    self.modal = Some(Modal::RateLimit(RateLimitForm {
                        may_set: self.session.may_set_limits(&t),
                        token: t,
                        field: RateField::Requests,
                        requests: requests.into(),
                        per: per.into(),
                        error: None,
                        busy: false,
                    }));
                }
                vec![]
            }
            Action::EditCredits => {
                if let Some(d) = &self.detail {
                    let t = d.token.clone();
                    let may_set = self.session.may_set_trusted();
                    self.modal = Some(Modal::Credits(CreditsForm::new(t, may_set)));
                }
                vec![]
            }
            Action::EditAllowedIps => {
                if let Some(d) = &self.detail {
                    let t = d.token.clone();
                    self.modal = Some(Modal::Allowlist(AllowlistForm {
                        may_set: self.session.may_set_limits(&t),
                        text: t
                            .allowed_ips
                            .as_ref()
                            .map(|v| v.join(", "))
                            .unwrap_or_default()
                            .into(),
                        token: t,
                        error: None,
                        busy: false,
                    }));
                }
                vec![]
            }
            _ => vec![],
        }
    }

    pub(super) fn on_detail_reply(&mut self, reply: Reply) -> Vec<Effect> {
        match reply {
            Reply::Detail { id, result } => {
                if let Some(d) = self.detail.as_mut().filter(|d| d.token.id == id) {
                    d.loading = false;
                    match result {
                        Ok((token, history)) => {
                            if let Some(t) = token {
                                d.token = t;
                            }
                            d.history = history;
                            d.error = None;
                        }
                        Err(e) if e.is_connection_lost() => {}
                        Err(e) => d.error = Some(e),
                    }
                }
            }
            Reply::Usage { id, window, result } => {
                if let Some(d) = self
                    .detail
                    .as_mut()
                    .filter(|d| d.token.id == id && d.window == window)
                {
                    d.usage_loading = false;
                    match result {
                        Ok(buckets) => d.usage = Usage::Loaded(buckets),
                        Err(e) if e.sqlstate() == Some("42501") => d.usage = Usage::NotVisible,
                        Err(e) if e.is_connection_lost() => {}
                        Err(e) => d.usage = Usage::Failed(e),
                    }
                }
            }
            _ => {}
        }
        vec![]
    }
}
