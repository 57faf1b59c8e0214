//! The only way the console's state changes: keys, mouse, the clock and the
//! database worker all become an `Action` for `App::update`.

use chrono::{DateTime, Utc};

use crate::db::model::Secret;
use crate::db::{Reply, Request};
use crate::input::Edit;

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Quit,
    ToggleHelp,
    /// Esc outside a text field: close the detail pane, clear a search.
    Back,
    Up,
    Down,
    Top,
    Bottom,
    NextPage,
    PrevPage,
    /// Mouse wheel: positive is down.
    Scroll(i32),
    ShowTokens,
    ShowAudit,
    /// The leak triage screen.
    ShowLeaks,
    /// The events (`tokens.events`).
    ShowEvents,
    OpenDetail,
    Refresh,
    StartSearch,
    CycleStatus,
    CycleKind,
    /// Tokens list: the hygiene filter on or off.
    ToggleHygiene,
    CycleSort,
    ReverseSort,
    NewToken,
    Revoke,
    /// Tokens list: mark or unmark the selected row for a bulk revoke.
    ToggleMark,
    /// Tokens list: revoke every marked row (asks first).
    RevokeMarked,
    Rotate,
    ToggleFollow,
    EditAuditFilter,
    /// Events view: acknowledge the events up to the selected one (asks
    /// first).
    AckEvents,
    /// Detail pane: usage over the last 24 h by hour, or 60 min by minute.
    ToggleUsageWindow,
    EditRateLimit,
    EditAllowedIps,
    /// Detail pane: the usage cap (`tokens.set_remaining`).
    EditCredits,
    /// Disable an enabled token, enable a disabled one (asks first).
    ToggleDisabled,
    /// Detail pane: the token's meta (a JSON object).
    EditMeta,
    /// Leak screen: revoke every live (active or disabled) token found, for
    /// its owner.
    RevokeLeaks,
    /// Text pasted into the terminal (bracketed paste), for the leak screen.
    Paste(Secret),
    // Editing whichever field or dialog has the focus.
    Input(char),
    /// A readline key in a text field (Ctrl-W, Ctrl-A, Alt-B, Delete...).
    Edit(Edit),
    Backspace,
    NextField,
    PrevField,
    Left,
    Right,
    Toggle,
    Submit,
    Cancel,
    Copy,
    Tick(DateTime<Utc>),
    Db(Reply),
}

/// What `update` asks the outside world to do: the main loop does it.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    Db(Request),
    /// Put the plaintext on the clipboard with OSC 52.
    Copy(Secret),
}
