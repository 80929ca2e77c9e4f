//! Key presses on the [`App`]: the login form, the chat screen's
//! navigation and scrolling, and tab completion. Enter on the chat screen
//! hands the line to `commands`.

use std::collections::BTreeSet;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;

use crate::app::login::FormAction;
use crate::app::{App, Screen};
use crate::command::COMMANDS;
use crate::exchange::Request;
use crate::layout::{self, ChatLayout};
use crate::transcript;

impl App {
    /// Takes in a key press.
    pub fn key(&mut self, key: KeyEvent) -> Vec<Request> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('q')) {
            return self.quit();
        }
        match self.screen {
            Screen::Login => self.login_key(key),
            Screen::Chat if self.help => {
                if matches!(
                    key.code,
                    KeyCode::Esc | KeyCode::F(1) | KeyCode::Enter | KeyCode::Char('q')
                ) {
                    self.help = false;
                }
                Vec::new()
            }
            Screen::Chat => self.chat_key(key),
        }
    }

    fn login_key(&mut self, key: KeyEvent) -> Vec<Request> {
        match self.login.key(key) {
            FormAction::Stay => Vec::new(),
            FormAction::Quit => self.quit(),
            FormAction::Submit { request, notice } => {
                self.say(notice);
                vec![request]
            }
        }
    }

    fn chat_key(&mut self, key: KeyEvent) -> Vec<Request> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        match key.code {
            KeyCode::Enter => return self.enter(),
            KeyCode::F(1) => self.help = true,
            KeyCode::F(2) => self.members_shown = Some(!self.members_visible()),
            KeyCode::Char('n') if ctrl => return self.cycle(1),
            KeyCode::Char('p') if ctrl => return self.cycle(-1),
            KeyCode::Down if alt => return self.cycle(1),
            KeyCode::Up if alt => return self.cycle(-1),
            KeyCode::Char(digit @ '1'..='9') if alt => {
                let idx = digit as usize - '1' as usize;
                if let Some(key) = self.convs.get(idx).map(|conv| conv.key.clone()) {
                    return self.switch_to(key);
                }
            }
            KeyCode::Up => self.input.history_up(),
            KeyCode::Down => self.input.history_down(),
            KeyCode::PageUp => return self.scroll_up(),
            KeyCode::PageDown => {
                let page = self.page();
                let conv = self.active_mut();
                conv.scroll = conv.scroll.saturating_sub(page);
            }
            KeyCode::End if ctrl => self.active_mut().scroll = 0,
            KeyCode::Tab => self.complete(),
            KeyCode::Esc => self.notice = None,
            _ => self.input.edit(key),
        }
        Vec::new()
    }

    fn complete(&mut self) {
        let commands: Vec<&str> = COMMANDS.iter().map(|(name, _, _)| *name).collect();
        let line = self.input.text().to_owned();
        let mut names: BTreeSet<String> = self.known_users.clone();
        if let Some(members) = &self.active_conv().members {
            for member in members {
                if let Some(user) = &member.user {
                    names.insert(user.username.clone());
                    names.insert(user.display_name.clone());
                }
            }
        }
        let rooms: Vec<String> = self
            .convs
            .iter()
            .filter_map(|conv| {
                conv.room()
                    .filter(|room| !room.is_empty())
                    .map(str::to_owned)
            })
            .collect();
        self.input.complete(|start, word| {
            let lower = word.to_lowercase();
            let matches =
                |candidate: &str| candidate.to_lowercase().starts_with(&lower) && candidate != word;
            if start == 0 && word.starts_with('/') {
                return commands
                    .iter()
                    .filter(|name| matches(name))
                    .map(|name| (*name).to_owned())
                    .collect();
            }
            if line.starts_with("/join ") || line.starts_with("/leave ") {
                return rooms.iter().filter(|r| matches(r)).cloned().collect();
            }
            if word.is_empty() {
                return Vec::new();
            }
            names.iter().filter(|n| matches(n)).cloned().collect()
        });
    }

    fn scroll_up(&mut self) -> Vec<Request> {
        let page = self.page();
        let width = self.message_width();
        let total = transcript::lines(&self.clock, self.active_conv(), width).len();
        let conv = self.active_mut();
        let top = total.saturating_sub(page);
        conv.scroll = (conv.scroll + page).min(top);
        if conv.scroll >= top && conv.has_more && !conv.loading {
            if let (Some(room), Some(before_seq)) =
                (conv.room().map(str::to_owned), conv.timeline.oldest_seq())
            {
                conv.loading = true;
                return vec![Request::History { room, before_seq }];
            }
        }
        Vec::new()
    }

    /// Rows of messages in view.
    fn page(&self) -> usize {
        usize::from(self.chat_layout().messages.height).max(1)
    }

    /// The width of the message pane for the terminal's size.
    pub(super) fn message_width(&self) -> usize {
        usize::from(self.chat_layout().messages.width)
    }

    /// The chat screen's areas for the terminal's size, as `ui` draws them.
    fn chat_layout(&self) -> ChatLayout {
        let full = Rect::new(0, 0, self.size.0, self.size.1);
        layout::chat_layout(full, self.members_visible())
    }
}
