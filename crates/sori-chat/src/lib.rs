//! `sori-chat`: a terminal chat client for Sori, thin over `sori-client`.
//!
//! The client is a pure state machine, [`app::App`]: keys and network
//! events in, requests out, with `ui::draw` rendering its state into a
//! ratatui buffer. Around it, [`net`] runs the connection (login,
//! reconnects and resumes) and [`terminal`] runs the screen and the
//! keyboard. Tests drive the app and render it with ratatui's
//! `TestBackend`, without a terminal or a server; `tests/tmux.rs` runs
//! the real binary in tmux against a real server.
#![warn(missing_docs, unreachable_pub)]

pub mod app;
pub mod auth;
pub mod clock;
pub mod command;
pub mod conversation;
pub mod exchange;
pub mod input;
pub mod layout;
pub mod net;
pub mod terminal;
pub mod text;
pub mod timeline;
pub mod transcript;
pub mod ui;
pub mod unread;
