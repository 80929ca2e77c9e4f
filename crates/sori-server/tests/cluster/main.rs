//! Several Sori nodes as one chat: nodes in this process (and child
//! processes of the real binary where one must be killed) on a shared
//! PostgreSQL schema and a `redis-server` each test starts itself.

mod chat;
mod faults;
mod limits;
mod moderation;
mod presence;
mod support;
