//! The input line: editing, history (Up/Down) and tab completion.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::text;

/// The text being typed, its cursor, and what was sent before.
#[derive(Debug, Clone, Default)]
pub struct Input {
    /// The text, as typed.
    text: String,
    /// The cursor, as a byte offset into `text` on a char boundary.
    cursor: usize,
    /// Lines entered before, oldest first.
    history: Vec<String>,
    /// While browsing history: the index shown, and what was being typed
    /// before browsing started (restored by going past the newest).
    browsing: Option<(usize, String)>,
    /// While cycling through completions with Tab.
    completion: Option<Completion>,
}

/// Repeated Tab presses cycle through the candidates for the same word.
#[derive(Debug, Clone)]
struct Completion {
    /// Byte offset where the completed word starts.
    start: usize,
    /// The candidates, in order.
    candidates: Vec<String>,
    /// The candidate shown.
    shown: usize,
    /// What follows the completed word, kept as it was.
    rest: String,
}

/// How many lines the history keeps.
const HISTORY_LINES: usize = 200;

impl Input {
    /// Applies an editing key: typing, deleting, and moving the cursor.
    pub fn edit(&mut self, key: KeyEvent) {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('u') if ctrl => self.clear(),
            KeyCode::Char('w') if ctrl => self.delete_word(),
            KeyCode::Char('a') if ctrl => self.home(),
            KeyCode::Char('e') if ctrl => self.end(),
            KeyCode::Char(c) if !ctrl => self.insert(c),
            KeyCode::Backspace => self.backspace(),
            KeyCode::Delete => self.delete(),
            KeyCode::Left => self.left(),
            KeyCode::Right => self.right(),
            KeyCode::Home => self.home(),
            KeyCode::End => self.end(),
            _ => {}
        }
    }

    /// The text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The display column of the cursor within the text.
    pub fn cursor_column(&self) -> usize {
        text::width(&self.text[..self.cursor])
    }

    /// Replaces the text and puts the cursor at its end.
    pub fn set(&mut self, value: &str) {
        self.text = value.to_owned();
        self.cursor = self.text.len();
        self.completion = None;
    }

    /// Types a character at the cursor.
    pub fn insert(&mut self, c: char) {
        self.text.insert(self.cursor, c);
        self.cursor += c.len_utf8();
        self.edited();
    }

    /// Deletes the character before the cursor.
    pub fn backspace(&mut self) {
        if let Some(c) = self.text[..self.cursor].chars().next_back() {
            self.cursor -= c.len_utf8();
            self.text.remove(self.cursor);
        }
        self.edited();
    }

    /// Deletes the character under the cursor.
    pub fn delete(&mut self) {
        if self.cursor < self.text.len() {
            self.text.remove(self.cursor);
        }
        self.edited();
    }

    /// Deletes the word before the cursor (Ctrl-W).
    pub fn delete_word(&mut self) {
        let before = &self.text[..self.cursor];
        let trimmed = before.trim_end();
        let start = trimmed.rfind(' ').map_or(0, |at| at + 1);
        self.text.replace_range(start..self.cursor, "");
        self.cursor = start;
        self.edited();
    }

    /// Clears the line (Ctrl-U).
    pub fn clear(&mut self) {
        self.text.clear();
        self.cursor = 0;
        self.edited();
    }

    /// Moves the cursor one character left.
    pub fn left(&mut self) {
        if let Some(c) = self.text[..self.cursor].chars().next_back() {
            self.cursor -= c.len_utf8();
        }
        self.completion = None;
    }

    /// Moves the cursor one character right.
    pub fn right(&mut self) {
        if let Some(c) = self.text[self.cursor..].chars().next() {
            self.cursor += c.len_utf8();
        }
        self.completion = None;
    }

    /// Moves the cursor to the start.
    pub fn home(&mut self) {
        self.cursor = 0;
        self.completion = None;
    }

    /// Moves the cursor to the end.
    pub fn end(&mut self) {
        self.cursor = self.text.len();
        self.completion = None;
    }

    /// Takes the line for sending: it goes into the history, and the input
    /// is left empty.
    pub fn submit(&mut self) -> String {
        let line = std::mem::take(&mut self.text);
        self.cursor = 0;
        self.browsing = None;
        self.completion = None;
        if !line.trim().is_empty() && self.history.last() != Some(&line) {
            self.history.push(line.clone());
            if self.history.len() > HISTORY_LINES {
                self.history.remove(0);
            }
        }
        line
    }

    /// Shows the previous history line (Up).
    pub fn history_up(&mut self) {
        let idx = match &self.browsing {
            Some((0, _)) => return,
            Some((idx, _)) => idx - 1,
            None if self.history.is_empty() => return,
            None => {
                self.browsing = Some((self.history.len(), self.text.clone()));
                self.history.len() - 1
            }
        };
        if let Some((shown, _)) = &mut self.browsing {
            *shown = idx;
        }
        self.text = self.history[idx].clone();
        self.cursor = self.text.len();
        self.completion = None;
    }

    /// Shows the next history line, or what was typed before browsing
    /// (Down).
    pub fn history_down(&mut self) {
        let Some((idx, draft)) = &mut self.browsing else {
            return;
        };
        if *idx + 1 >= self.history.len() {
            self.text = std::mem::take(draft);
            self.browsing = None;
        } else {
            *idx += 1;
            self.text = self.history[*idx].clone();
        }
        self.cursor = self.text.len();
        self.completion = None;
    }

    /// Completes the word before the cursor (Tab). `candidates` gets the
    /// word's start (the byte offset, 0 for the first word) and the word
    /// typed so far, and returns every possible completion; repeated Tabs
    /// cycle through them.
    pub fn complete(&mut self, candidates: impl FnOnce(usize, &str) -> Vec<String>) {
        if let Some(completion) = &mut self.completion {
            if completion.candidates.len() > 1 {
                completion.shown = (completion.shown + 1) % completion.candidates.len();
                let completion = completion.clone();
                self.show(&completion);
            }
            return;
        }
        let start = self.text[..self.cursor].rfind(' ').map_or(0, |at| at + 1);
        let word = &self.text[start..self.cursor];
        let found = candidates(start, word);
        if found.is_empty() {
            return;
        }
        let completion = Completion {
            start,
            candidates: found,
            shown: 0,
            rest: self.text[self.cursor..].to_owned(),
        };
        self.show(&completion);
        self.completion = Some(completion);
    }

    fn show(&mut self, completion: &Completion) {
        let word = &completion.candidates[completion.shown];
        self.text.truncate(completion.start);
        self.text.push_str(word);
        self.text.push(' ');
        self.cursor = self.text.len();
        self.text.push_str(completion.rest.trim_start());
    }

    fn edited(&mut self) {
        self.completion = None;
    }
}

#[cfg(test)]
mod tests;
