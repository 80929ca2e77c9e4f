//! The [`App`]'s sidebar: which conversations are open, which one is in
//! view, and moving between them.

use crate::app::{App, Screen};
use crate::conversation::{ConvKey, Conversation, room_key, whisper_key};
use crate::exchange::Request;

impl App {
    pub(super) fn conv(&self, key: &ConvKey) -> Option<&Conversation> {
        self.convs.iter().find(|conv| conv.key == *key)
    }

    pub(super) fn conv_mut(&mut self, key: &ConvKey) -> Option<&mut Conversation> {
        self.convs.iter_mut().find(|conv| conv.key == *key)
    }

    pub(super) fn active_mut(&mut self) -> &mut Conversation {
        let key = self.active.clone();
        let idx = self
            .convs
            .iter()
            .position(|conv| conv.key == key)
            .unwrap_or(0);
        &mut self.convs[idx]
    }

    pub(super) fn in_view(&self, key: &ConvKey) -> bool {
        self.screen == Screen::Chat && self.active == *key
    }

    /// The conversation with `username`, created if needed; its key.
    pub(super) fn whisper_conv(&mut self, username: &str, display_name: Option<&str>) -> ConvKey {
        let key = whisper_key(username);
        match self.conv_mut(&key) {
            Some(conv) => {
                if let Some(display_name) = display_name {
                    conv.display_name = display_name.to_owned();
                    conv.name = username.to_owned();
                }
            }
            None => {
                let mut conv = Conversation::new(key.clone(), username);
                conv.display_name = display_name.unwrap_or(username).to_owned();
                self.convs.push(conv);
            }
        }
        key
    }

    pub(super) fn remove(&mut self, key: &ConvKey) {
        if *key == room_key("") {
            return;
        }
        self.convs.retain(|conv| conv.key != *key);
        if self.active == *key {
            self.active = room_key("");
            if let Some(conv) = self.conv_mut(&room_key("")) {
                conv.unread.viewed();
            }
        }
    }

    /// Shows a conversation: its unread messages are read, and the read
    /// marker goes above the first of them.
    pub(super) fn switch_to(&mut self, key: ConvKey) -> Vec<Request> {
        if key != self.active {
            if let Some(old) = self.conv_mut(&self.active.clone()) {
                old.marker = None;
            }
        }
        self.active = key.clone();
        let Some(conv) = self.conv_mut(&key) else {
            self.active = room_key("");
            return Vec::new();
        };
        if let Some(first) = conv.unread.viewed() {
            conv.marker = Some(first);
        }
        conv.scroll = 0;
        match (&conv.key, &conv.members) {
            (ConvKey::Room(_), None) => vec![Request::Members {
                room: conv.name.clone(),
                show: false,
            }],
            _ => Vec::new(),
        }
    }

    pub(super) fn cycle(&mut self, step: isize) -> Vec<Request> {
        let n = self.convs.len() as isize;
        let at = self
            .convs
            .iter()
            .position(|conv| conv.key == self.active)
            .unwrap_or(0) as isize;
        let next = (at + step).rem_euclid(n) as usize;
        let key = self.convs[next].key.clone();
        self.switch_to(key)
    }
}
