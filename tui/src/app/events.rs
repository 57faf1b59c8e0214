//! The events view: the outbox `tokens.events` (expiring, expired, revoked,
//! leaked, rate-limited, credits low, reused), newest first, with follow
//! mode, and acknowledging the events handled (`tokens.ack_events`).

use super::*;

#[derive(Clone, Debug, PartialEq, Default)]
pub struct EventsView {
    pub feed: Feed<TokenEvent>,
}

/// The ack dialog: `tokens.ack_events(upto)` deletes every event up to
/// `upto`, for every consumer, so it asks first.
#[derive(Clone, Debug, PartialEq)]
pub struct AckEvents {
    pub upto: i64,
    /// Events up to `upto` among those shown (there may be older ones).
    pub shown: usize,
    pub busy: bool,
    pub error: Option<DbError>,
}

impl App {
    pub(super) fn load_events(&mut self, ask: PageAsk) -> Vec<Effect> {
        let gen = self.next_gen();
        self.events.feed.begin(gen, ask);
        let query = EventQuery {
            before: ask.before,
            after: ask.after,
            limit: PAGE,
        };
        vec![Effect::Db(Request::Events {
            gen,
            query,
            follow: false,
        })]
    }

    /// In follow mode: the poll for events newer than those shown.
    pub(super) fn poll_events(&mut self) -> Vec<Effect> {
        let Some((gen, after)) = self.events.feed.poll() else {
            return vec![];
        };
        let query = EventQuery {
            before: None,
            after: Some(after),
            limit: PAGE,
        };
        vec![Effect::Db(Request::Events {
            gen,
            query,
            follow: true,
        })]
    }

    pub(super) fn update_events(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::ToggleFollow => {
                let reload = self.events.feed.toggle_follow();
                if self.events.feed.follow {
                    self.info("follow: new events appear at the top as they happen");
                } else {
                    self.info("follow off");
                }
                reload.map(|ask| self.load_events(ask)).unwrap_or_default()
            }
            Action::AckEvents => self.open_ack(),
            a => match self.events.feed.navigate(&a) {
                Some(ask) => self.load_events(ask),
                None => vec![],
            },
        }
    }

    /// Asks before acknowledging the events up to the selected one.
    fn open_ack(&mut self) -> Vec<Effect> {
        if !self.session.reader {
            self.error(format!(
                "acknowledging events needs tokens_reader (you are {})",
                self.session.role
            ));
            return vec![];
        }
        let feed = &self.events.feed;
        let Some(upto) = feed.selected_row().map(|e| e.id) else {
            self.info("no events to acknowledge");
            return vec![];
        };
        let shown = feed.rows.iter().filter(|e| e.id <= upto).count();
        self.modal = Some(Modal::AckEvents(AckEvents {
            upto,
            shown,
            busy: false,
            error: None,
        }));
        vec![]
    }

    pub(super) fn update_ack(
        &mut self,
        mut ack: AckEvents,
        action: Action,
    ) -> (Option<Modal>, Vec<Effect>) {
        match action {
            _ if ack.busy => (Some(Modal::AckEvents(ack)), vec![]),
            Action::Cancel => (None, vec![]),
            Action::Submit => {
                ack.busy = true;
                ack.error = None;
                let upto = ack.upto;
                (
                    Some(Modal::AckEvents(ack)),
                    vec![Effect::Db(Request::AckEvents { upto })],
                )
            }
            _ => (Some(Modal::AckEvents(ack)), vec![]),
        }
    }

    pub(super) fn on_events_reply(&mut self, reply: Reply) -> Vec<Effect> {
        match reply {
            Reply::Events {
                gen,
                follow,
                result,
            } => self.events.feed.on_page(gen, follow, result),
            Reply::EventsAcked { upto, result } => {
                let Some(Modal::AckEvents(ack)) = self.modal.as_mut() else {
                    return vec![];
                };
                match result {
                    Ok(n) => {
                        self.modal = None;
                        self.info(format!(
                            "{n} event{} acknowledged (up to #{upto})",
                            if n == 1 { "" } else { "s" }
                        ));
                        self.events.feed.selected = 0;
                        self.events.feed.newer = false;
                        return self.load_events(PageAsk::NEWEST);
                    }
                    Err(e) => {
                        ack.busy = false;
                        ack.error = Some(e);
                    }
                }
            }
            _ => {}
        }
        vec![]
    }
}
