//! One text input for every form, the search and the filters: a string and
//! a cursor, edited with the keys of a terminal (readline's emacs keys).

use std::fmt;
use std::ops::Deref;

/// One editing key, already mapped from the terminal's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edit {
    Insert(char),
    /// Backspace: the character before the cursor.
    Backspace,
    /// Delete: the character under the cursor.
    Delete,
    Left,
    Right,
    /// Ctrl-A, Home.
    Home,
    /// Ctrl-E, End.
    End,
    /// Alt-B.
    WordLeft,
    /// Alt-F.
    WordRight,
    /// Ctrl-W: the word before the cursor (and the spaces after it).
    DeleteWordBack,
    /// Ctrl-U: everything before the cursor.
    ClearToStart,
    /// Ctrl-K: everything from the cursor on.
    KillToEnd,
}

/// A line (or, for the meta form, lines) of typed text and where the
/// cursor is, as a byte offset on a character boundary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TextInput {
    text: String,
    cursor: usize,
}

impl TextInput {
    /// The text with the cursor at its end.
    pub fn new(text: impl Into<String>) -> TextInput {
        let text = text.into();
        let cursor = text.len();
        TextInput { text, cursor }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Replaces the text; the cursor goes to its end.
    pub fn set(&mut self, text: impl Into<String>) {
        *self = TextInput::new(text);
    }

    pub fn clear(&mut self) {
        self.set(String::new());
    }

    /// The text before and after the cursor.
    pub fn parts(&self) -> (&str, &str) {
        self.text.split_at(self.cursor)
    }

    /// The text as a field shows it: `caret` at the cursor when focused,
    /// each part passed through `clean` first.
    pub fn shown(&self, focused: bool, caret: &str, clean: impl Fn(&str) -> String) -> String {
        if !focused {
            return clean(&self.text);
        }
        let (before, after) = self.parts();
        format!("{}{caret}{}", clean(before), clean(after))
    }

    /// Applies one key; true when the text changed (not just the cursor).
    pub fn apply(&mut self, edit: Edit) -> bool {
        apply(&mut self.text, &mut self.cursor, edit)
    }
}

/// Applies one key to `text` with the cursor at `cursor` (a byte offset on
/// a character boundary); true when the text changed. For text kept
/// elsewhere (the leak screen's `Secret`, wiped on drop).
pub fn apply(text: &mut String, cursor: &mut usize, edit: Edit) -> bool {
    let before = text.len();
    let c = *cursor;
    match edit {
        Edit::Insert(ch) => {
            text.insert(c, ch);
            *cursor += ch.len_utf8();
            return true;
        }
        Edit::Backspace => {
            if let Some(ch) = text[..c].chars().next_back() {
                *cursor -= ch.len_utf8();
                text.remove(*cursor);
            }
        }
        Edit::Delete => {
            if c < text.len() {
                text.remove(c);
            }
        }
        Edit::Left => *cursor = prev_char(text, c),
        Edit::Right => *cursor = next_char(text, c),
        Edit::Home => *cursor = 0,
        Edit::End => *cursor = text.len(),
        Edit::WordLeft => *cursor = word_start(text, c),
        Edit::WordRight => *cursor = word_end(text, c),
        Edit::DeleteWordBack => {
            let start = word_start(text, c);
            text.replace_range(start..c, "");
            *cursor = start;
        }
        Edit::ClearToStart => {
            text.replace_range(..c, "");
            *cursor = 0;
        }
        Edit::KillToEnd => text.truncate(c),
    }
    before != text.len()
}

fn prev_char(text: &str, cursor: usize) -> usize {
    text[..cursor]
        .chars()
        .next_back()
        .map_or(cursor, |c| cursor - c.len_utf8())
}

fn next_char(text: &str, cursor: usize) -> usize {
    text[cursor..]
        .chars()
        .next()
        .map_or(cursor, |c| cursor + c.len_utf8())
}

fn in_word(c: char) -> bool {
    c.is_alphanumeric()
}

/// Where the word before the cursor starts (what is not a word skipped first).
fn word_start(text: &str, cursor: usize) -> usize {
    let trimmed = text[..cursor].trim_end_matches(|c| !in_word(c));
    trimmed
        .char_indices()
        .rev()
        .find(|(_, c)| !in_word(*c))
        .map_or(0, |(i, c)| i + c.len_utf8())
}

/// Where the word after the cursor ends (what is not a word skipped first).
fn word_end(text: &str, cursor: usize) -> usize {
    let after = &text[cursor..];
    let skip = after.len() - after.trim_start_matches(|c| !in_word(c)).len();
    let rest = &after[skip..];
    let word = rest
        .char_indices()
        .find(|(_, c)| !in_word(*c))
        .map_or(rest.len(), |(i, _)| i);
    cursor + skip + word
}

impl Deref for TextInput {
    type Target = str;
    fn deref(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for TextInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl From<String> for TextInput {
    fn from(s: String) -> Self {
        TextInput::new(s)
    }
}

impl From<&str> for TextInput {
    fn from(s: &str) -> Self {
        TextInput::new(s)
    }
}

impl PartialEq<str> for TextInput {
    fn eq(&self, other: &str) -> bool {
        self.text == other
    }
}

impl PartialEq<&str> for TextInput {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

impl PartialEq<String> for TextInput {
    fn eq(&self, other: &String) -> bool {
        &self.text == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// "text" with the cursor where `|` is.
    fn at(marked: &str) -> TextInput {
        let cursor = marked.find('|').unwrap();
        TextInput {
            text: marked.replace('|', ""),
            cursor,
        }
    }

    fn after(marked: &str, edit: Edit) -> String {
        let mut t = at(marked);
        t.apply(edit);
        let (a, b) = t.parts();
        format!("{a}|{b}")
    }

    #[test]
    fn insert_at_the_cursor() {
        assert_eq!(after("ab|cd", Edit::Insert('x')), "abx|cd");
        assert_eq!(after("|", Edit::Insert('é')), "é|");
    }

    #[test]
    fn backspace_and_delete() {
        assert_eq!(after("ab|cd", Edit::Backspace), "a|cd");
        assert_eq!(after("|cd", Edit::Backspace), "|cd");
        assert_eq!(after("ab|cd", Edit::Delete), "ab|d");
        assert_eq!(after("ab|", Edit::Delete), "ab|");
        assert_eq!(after("aé|", Edit::Backspace), "a|");
    }

    #[test]
    fn left_and_right() {
        assert_eq!(after("ab|cd", Edit::Left), "a|bcd");
        assert_eq!(after("|ab", Edit::Left), "|ab");
        assert_eq!(after("ab|cd", Edit::Right), "abc|d");
        assert_eq!(after("ab|", Edit::Right), "ab|");
        assert_eq!(after("é|", Edit::Left), "|é");
    }

    #[test]
    fn ctrl_a_home_and_ctrl_e_end() {
        assert_eq!(after("ab|cd", Edit::Home), "|abcd");
        assert_eq!(after("ab|cd", Edit::End), "abcd|");
    }

    #[test]
    fn ctrl_u_clears_to_the_start() {
        assert_eq!(after("deploy bot|", Edit::ClearToStart), "|");
        assert_eq!(after("deploy |bot", Edit::ClearToStart), "|bot");
    }

    #[test]
    fn ctrl_k_kills_to_the_end() {
        assert_eq!(after("deploy |bot", Edit::KillToEnd), "deploy |");
        assert_eq!(after("|bot", Edit::KillToEnd), "|");
    }

    #[test]
    fn ctrl_w_deletes_the_word_back() {
        assert_eq!(after("ci deploy bot|", Edit::DeleteWordBack), "ci deploy |");
        assert_eq!(after("ci deploy  |", Edit::DeleteWordBack), "ci |");
        assert_eq!(after("ci deploy|bot", Edit::DeleteWordBack), "ci |bot");
        assert_eq!(after("|x", Edit::DeleteWordBack), "|x");
        assert_eq!(after("10.0.0.0/8|", Edit::DeleteWordBack), "10.0.0.0/|");
    }

    #[test]
    fn alt_b_and_alt_f_move_by_words() {
        assert_eq!(after("ci deploy bot|", Edit::WordLeft), "ci deploy |bot");
        assert_eq!(after("ci deploy |bot", Edit::WordLeft), "ci |deploy bot");
        assert_eq!(after("|ci", Edit::WordLeft), "|ci");
        assert_eq!(after("|ci deploy", Edit::WordRight), "ci| deploy");
        assert_eq!(after("ci| deploy", Edit::WordRight), "ci deploy|");
        assert_eq!(after("ci|", Edit::WordRight), "ci|");
    }

    #[test]
    fn apply_says_whether_the_text_changed() {
        let mut t = TextInput::new("ab");
        assert!(!t.apply(Edit::Left));
        assert!(t.apply(Edit::Backspace));
        assert!(!t.apply(Edit::Backspace) || t.as_str().is_empty());
        assert_eq!(t, "b");
    }

    #[test]
    fn shown_puts_the_caret_at_the_cursor() {
        let t = at("ab|c");
        assert_eq!(t.shown(true, "▏", str::to_owned), "ab▏c");
        assert_eq!(t.shown(false, "▏", str::to_owned), "abc");
    }
}
