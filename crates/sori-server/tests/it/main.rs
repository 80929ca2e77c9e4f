//! Sori's integration tests: one binary, a real server on 127.0.0.1:0 in the
//! test process, real TCP clients through sori-client.

mod accounts;
mod hostile;
mod lobby;
mod malformed;
mod metrics;
mod moderation;
mod page;
mod parking;
mod resume;
mod rooms;
mod sessions;
mod support;
mod tls;
mod tokens;
mod websocket;
