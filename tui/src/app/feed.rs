//! A log read a page at a time, newest first and keyset-paged by id, with
//! a follow mode that polls for newer rows: the audit log and the events
//! share it.

use super::*;

/// A row of a feed: its id orders the feed.
pub trait Keyed {
    fn id(&self) -> i64;
}

impl Keyed for AuditEvent {
    fn id(&self) -> i64 {
        self.id
    }
}

impl Keyed for TokenEvent {
    fn id(&self) -> i64 {
        self.id
    }
}

/// A page to read: ids below `before` (an older page) or above `after` (a
/// newer one); `bottom`: land on its last row (we came up from below).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageAsk {
    pub before: Option<i64>,
    pub after: Option<i64>,
    pub bottom: bool,
}

impl PageAsk {
    /// The newest page.
    pub const NEWEST: PageAsk = PageAsk {
        before: None,
        after: None,
        bottom: false,
    };
}

#[derive(Clone, Debug, PartialEq)]
pub struct Feed<T> {
    pub rows: Vec<T>,
    pub selected: usize,
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

impl<T> Default for Feed<T> {
    fn default() -> Self {
        Feed {
            rows: Vec::new(),
            selected: 0,
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

impl<T: Keyed> Feed<T> {
    /// A page read is under way as request `gen`.
    pub(super) fn begin(&mut self, gen: u64, ask: PageAsk) {
        self.gen = gen;
        self.loading = true;
        self.land_bottom = ask.bottom;
    }

    fn older_page(&mut self) -> PageAsk {
        self.newer = true;
        self.follow = false;
        PageAsk {
            before: self.rows.last().map(Keyed::id),
            after: None,
            bottom: false,
        }
    }

    fn newer_page(&self) -> PageAsk {
        PageAsk {
            before: None,
            after: self.rows.first().map(Keyed::id),
            bottom: true,
        }
    }

    /// Moves the selection for a navigation action (arrows, wheel, pages,
    /// top, bottom); the page to read when it goes past this one.
    pub(super) fn navigate(&mut self, action: &Action) -> Option<PageAsk> {
        let n = self.rows.len();
        match *action {
            Action::Down | Action::Scroll(1..) => {
                let step = match *action {
                    Action::Scroll(d) => d as usize,
                    _ => 1,
                };
                if self.selected + step < n {
                    self.selected += step;
                } else if self.older && !self.loading {
                    return Some(self.older_page());
                } else {
                    self.selected = n.saturating_sub(1);
                }
                None
            }
            Action::Up | Action::Scroll(..=-1) => {
                let step = match *action {
                    Action::Scroll(d) => d.unsigned_abs() as usize,
                    _ => 1,
                };
                if self.selected >= step {
                    self.selected -= step;
                } else if self.newer && !self.loading {
                    return Some(self.newer_page());
                } else {
                    self.selected = 0;
                }
                None
            }
            Action::NextPage if self.older => Some(self.older_page()),
            Action::PrevPage if self.newer => Some(self.newer_page()),
            Action::Top => {
                self.selected = 0;
                self.newer.then_some(PageAsk::NEWEST)
            }
            Action::Bottom => {
                self.selected = n.saturating_sub(1);
                None
            }
            _ => None,
        }
    }

    /// Follow mode on or off; the newest page to read when it goes on
    /// while an older page is shown.
    pub(super) fn toggle_follow(&mut self) -> Option<PageAsk> {
        self.follow = !self.follow;
        if self.follow && self.newer {
            self.selected = 0;
            return Some(PageAsk::NEWEST);
        }
        None
    }

    /// In follow mode, on the newest page, with no poll under way: the poll
    /// to send now (the request's gen, and the newest id shown).
    pub(super) fn poll(&mut self) -> Option<(u64, i64)> {
        if !self.follow || self.newer || self.polling {
            return None;
        }
        self.polling = true;
        Some((self.gen, self.rows.first().map(Keyed::id).unwrap_or(0)))
    }

    /// The connection went: nothing is under way any more.
    pub(super) fn connection_lost(&mut self) {
        self.loading = false;
        self.polling = false;
    }

    /// A page came back (`follow`: the answer to a poll).
    pub(super) fn on_page(&mut self, gen: u64, follow: bool, result: Result<Vec<T>, DbError>) {
        if follow {
            self.polling = false;
            if gen != self.gen || !self.follow {
                return;
            }
            if let Ok(new) = result {
                if !new.is_empty() {
                    let added = new.len();
                    let mut rows = new;
                    rows.append(&mut self.rows);
                    if rows.len() > PAGE as usize {
                        rows.truncate(PAGE as usize);
                        self.older = true;
                    }
                    self.rows = rows;
                    if self.selected > 0 {
                        self.selected = (self.selected + added).min(self.rows.len() - 1);
                    }
                }
            }
            return;
        }
        if gen != self.gen {
            return;
        }
        self.loading = false;
        match result {
            Ok(rows) => {
                let n = rows.len();
                self.error = None;
                self.loaded = true;
                if self.land_bottom {
                    // A newer page: its rows, with the newest first.
                    self.newer = n as i64 >= PAGE;
                    self.older = true;
                    self.selected = n.saturating_sub(1);
                } else {
                    self.older = n as i64 >= PAGE;
                    self.selected = self.selected.min(n.saturating_sub(1));
                    if self.newer && self.rows.first().map(Keyed::id) == rows.first().map(Keyed::id)
                    {
                        self.newer = false;
                    }
                }
                if n == 0 && self.land_bottom {
                    self.newer = false;
                    return;
                }
                self.rows = rows;
            }
            Err(e) if e.is_connection_lost() => {}
            Err(e) => {
                self.error = Some(e);
                self.loaded = true;
            }
        }
    }

    pub fn selected_row(&self) -> Option<&T> {
        self.rows.get(self.selected)
    }
}
