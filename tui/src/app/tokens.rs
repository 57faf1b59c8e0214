//! The tokens list: one page of tokens, the search and the filters.

use super::*;

/// One page of the token list and how it was asked for.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenList {
    pub rows: Vec<Token>,
    pub selected: usize,
    pub first: Option<Cursor>,
    pub last: Option<Cursor>,
    pub has_prev: bool,
    pub has_next: bool,
    /// Position of the first row in the whole ordering, when known.
    pub offset: Option<u64>,
    pub total: Option<i64>,
    pub filter: TokenFilter,
    pub sort: SortColumn,
    pub descending: bool,
    pub loading: bool,
    pub loaded: bool,
    pub error: Option<DbError>,
    pub search_input: bool,
    /// The search as typed (`filter.search` is what was asked for).
    pub search: TextInput,
    /// Rows marked for a bulk revoke (Space), in the order marked; kept
    /// across pages, filters and refreshes.
    pub marked: Vec<Token>,
    pub(super) gen: u64,
    pub(super) land: Land,
}

/// Where the selection goes when the requested page arrives.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Land {
    Top { offset: Option<u64> },
    Bottom,
    Keep,
}

impl Default for TokenList {
    fn default() -> Self {
        TokenList {
            rows: Vec::new(),
            selected: 0,
            first: None,
            last: None,
            has_prev: false,
            has_next: false,
            offset: Some(0),
            total: None,
            filter: TokenFilter::default(),
            sort: SortColumn::Created,
            descending: true,
            loading: false,
            loaded: false,
            error: None,
            search_input: false,
            search: TextInput::default(),
            marked: Vec::new(),
            gen: 0,
            land: Land::Top { offset: Some(0) },
        }
    }
}

impl TokenList {
    pub fn selected_token(&self) -> Option<&Token> {
        self.rows.get(self.selected)
    }

    pub fn is_marked(&self, id: Uuid) -> bool {
        self.marked.iter().any(|t| t.id == id)
    }
}

impl App {
    pub(super) fn load_tokens(
        &mut self,
        cursor: Option<Cursor>,
        direction: Direction,
        land: Land,
    ) -> Vec<Effect> {
        self.load_tokens_from(cursor, direction, false, land)
    }

    pub(super) fn load_tokens_from(
        &mut self,
        cursor: Option<Cursor>,
        direction: Direction,
        inclusive: bool,
        land: Land,
    ) -> Vec<Effect> {
        let gen = self.next_gen();
        self.tokens.gen = gen;
        self.tokens.loading = true;
        self.tokens.land = land;
        let query = PageQuery {
            filter: self.tokens.filter.clone(),
            sort: self.tokens.sort,
            descending: self.tokens.descending,
            cursor,
            direction,
            inclusive,
            limit: PAGE,
            events: self.session.reader,
        };
        vec![
            Effect::Db(Request::Tokens { gen, query }),
            Effect::Db(Request::Count {
                gen,
                filter: self.tokens.filter.clone(),
            }),
        ]
    }

    /// The list from its first page (a new filter, sort or search).
    pub(super) fn reload_tokens(&mut self) -> Vec<Effect> {
        self.tokens.total = None;
        self.load_tokens(None, Direction::Forward, Land::Top { offset: Some(0) })
    }

    /// The current page again, from its first row (a refresh, or after a
    /// change): the same position in the order, the rows as they are now.
    pub(super) fn refresh_tokens(&mut self) -> Vec<Effect> {
        let cursor = if self.tokens.has_prev {
            self.tokens.first.clone()
        } else {
            None
        };
        self.load_tokens_from(cursor, Direction::Forward, true, Land::Keep)
    }

    pub(super) fn update_tokens(&mut self, action: Action) -> Vec<Effect> {
        let n = self.tokens.rows.len();
        match action {
            Action::Down => self.move_token_selection(1),
            Action::Up => self.move_token_selection(-1),
            Action::Scroll(d) => self.move_token_selection(d),
            Action::Top => {
                self.tokens.selected = 0;
                if self.tokens.has_prev {
                    return self.load_tokens(
                        None,
                        Direction::Forward,
                        Land::Top { offset: Some(0) },
                    );
                }
                vec![]
            }
            Action::Bottom => {
                if self.tokens.has_next {
                    return self.load_tokens(None, Direction::Backward, Land::Bottom);
                }
                self.tokens.selected = n.saturating_sub(1);
                vec![]
            }
            Action::NextPage => {
                if self.tokens.has_next {
                    let offset = self.tokens.offset.map(|o| o + n as u64);
                    return self.load_tokens(
                        self.tokens.last.clone(),
                        Direction::Forward,
                        Land::Top { offset },
                    );
                }
                self.tokens.selected = n.saturating_sub(1);
                vec![]
            }
            Action::PrevPage => {
                if self.tokens.has_prev {
                    return self.load_tokens(
                        self.tokens.first.clone(),
                        Direction::Backward,
                        Land::Top { offset: None },
                    );
                }
                self.tokens.selected = 0;
                vec![]
            }
            Action::OpenDetail => {
                if let Some(t) = self.tokens.selected_token().cloned() {
                    self.detail = Some(Detail {
                        token: t,
                        history: vec![],
                        loading: true,
                        error: None,
                        scroll: 0,
                        window: UsageWindow::Day,
                        usage: Usage::Pending,
                        usage_loading: true,
                        usage_asked: self.now,
                    });
                    self.view = View::Detail;
                    return self.load_detail();
                }
                vec![]
            }
            Action::StartSearch => {
                self.tokens.search_input = true;
                vec![]
            }
            Action::Back => {
                if !self.tokens.filter.search.is_empty() {
                    self.tokens.filter.search.clear();
                    self.tokens.search.clear();
                    return self.reload_tokens();
                }
                if !self.tokens.marked.is_empty() {
                    self.tokens.marked.clear();
                    self.info("marks cleared");
                }
                vec![]
            }
            Action::ToggleMark => self.toggle_mark(),
            Action::ToggleHygiene => {
                self.tokens.filter.hygiene = !self.tokens.filter.hygiene;
                self.reload_tokens()
            }
            Action::RevokeMarked => self.open_bulk_revoke(),
            Action::CycleStatus => {
                let i = STATUSES
                    .iter()
                    .position(|s| s.map(str::to_owned) == self.tokens.filter.status)
                    .unwrap_or(0);
                self.tokens.filter.status = STATUSES[(i + 1) % STATUSES.len()].map(str::to_owned);
                self.reload_tokens()
            }
            Action::CycleKind => {
                let i = KINDS
                    .iter()
                    .position(|s| s.map(str::to_owned) == self.tokens.filter.kind)
                    .unwrap_or(0);
                self.tokens.filter.kind = KINDS[(i + 1) % KINDS.len()].map(str::to_owned);
                self.reload_tokens()
            }
            Action::CycleSort => {
                self.tokens.sort = self.tokens.sort.next();
                // Times read best newest first, words A to Z.
                self.tokens.descending =
                    matches!(self.tokens.sort, SortColumn::Created | SortColumn::LastUsed);
                self.reload_tokens()
            }
            Action::ReverseSort => {
                self.tokens.descending = !self.tokens.descending;
                self.reload_tokens()
            }
            Action::NewToken => self.open_create_form(),
            Action::Revoke => self.open_confirm(ConfirmOp::Revoke),
            Action::Rotate => self.open_confirm(ConfirmOp::Rotate),
            Action::ToggleDisabled => self.open_disable(),
            _ => vec![],
        }
    }

    pub(super) fn move_token_selection(&mut self, delta: i32) -> Vec<Effect> {
        let n = self.tokens.rows.len();
        if n == 0 {
            return vec![];
        }
        let target = self.tokens.selected as i64 + delta as i64;
        if target >= n as i64 {
            if self.tokens.has_next && !self.tokens.loading {
                let offset = self.tokens.offset.map(|o| o + n as u64);
                return self.load_tokens(
                    self.tokens.last.clone(),
                    Direction::Forward,
                    Land::Top { offset },
                );
            }
            self.tokens.selected = n - 1;
        } else if target < 0 {
            if self.tokens.has_prev && !self.tokens.loading {
                return self.load_tokens(
                    self.tokens.first.clone(),
                    Direction::Backward,
                    Land::Bottom,
                );
            }
            self.tokens.selected = 0;
        } else {
            self.tokens.selected = target as usize;
        }
        vec![]
    }

    pub(super) fn update_search(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Submit => {
                self.tokens.search_input = false;
                vec![]
            }
            Action::Cancel => {
                self.tokens.search_input = false;
                self.tokens.search.clear();
                self.tokens.filter.search.clear();
                self.reload_tokens()
            }
            Action::Down | Action::Up => {
                self.tokens.search_input = false;
                self.update_tokens(action)
            }
            a => {
                let typed = matches!(a, Action::Input(_) | Action::Backspace);
                if edit(&mut self.tokens.search, &a) || typed {
                    self.tokens.filter.search = self.tokens.search.to_string();
                    return self.reload_tokens();
                }
                vec![]
            }
        }
    }

    pub(super) fn land_page(&mut self, page: TokenPage) {
        let t = &mut self.tokens;
        let previous = t.selected;
        let n = page.rows.len();
        t.error = None;
        t.loaded = true;
        t.has_prev = page.has_prev;
        t.has_next = page.has_next;
        t.first = page.first;
        t.last = page.last;
        t.rows = page.rows;
        match t.land {
            Land::Top { offset } => {
                t.selected = 0;
                t.offset = offset;
                if !t.has_prev {
                    t.offset = Some(0);
                }
            }
            Land::Bottom => {
                t.selected = n.saturating_sub(1);
                t.offset = match (t.has_next, t.total) {
                    (false, Some(total)) => Some((total as u64).saturating_sub(n as u64)),
                    _ => t.offset.and_then(|o| o.checked_sub(n as u64)),
                };
                if !t.has_prev {
                    t.offset = Some(0);
                }
            }
            Land::Keep => t.selected = previous.min(n.saturating_sub(1)),
        }
        if !t.has_prev {
            t.offset = Some(0);
        }
    }
    pub(super) fn on_tokens_reply(&mut self, reply: Reply) -> Vec<Effect> {
        match reply {
            Reply::Tokens { gen, result } => {
                if gen != self.tokens.gen {
                    return vec![];
                }
                self.tokens.loading = false;
                match result {
                    Ok(page) => self.land_page(page),
                    Err(e) if e.is_connection_lost() => {}
                    Err(e) => {
                        self.tokens.error = Some(e);
                        self.tokens.loaded = true;
                    }
                }
            }
            Reply::Count { gen, result } => {
                if gen == self.tokens.gen {
                    if let Ok(n) = result {
                        self.tokens.total = Some(n);
                        if self.tokens.offset.is_none() && !self.tokens.has_next {
                            self.tokens.offset =
                                Some((n as u64).saturating_sub(self.tokens.rows.len() as u64));
                        }
                    }
                }
            }
            _ => {}
        }
        vec![]
    }
}
