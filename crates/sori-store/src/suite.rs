//! The store test suite: every test is written once, against `&dyn Store`
//! (through [`TestStore`](support::TestStore)), and run on each backend by
//! [`store_tests!`](support::store_tests), which makes a `sqlite::<name>`
//! and a `postgres::<name>` test of it. Each run gets a database of its own:
//! a fresh file on SQLite, a fresh schema on PostgreSQL (see `support.rs`
//! for where the server is found, and what happens when it is not). What only one backend has (files and pragmas, the URL and TLS) is
//! tested in that backend's own `tests.rs`.

mod account;
mod message;
mod moderation;
mod room;
pub(crate) mod support;
mod token;
