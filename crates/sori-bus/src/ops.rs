//! Fire-and-forget work, sent to Redis in order by one task: the bus's
//! synchronous methods (called under the core's locks) only queue it.

use std::sync::Arc;
use std::sync::Weak;
use std::time::Duration;

use redis::AsyncCommands;
use sori_core::hub::username_key;
use sori_protocol::Message;
use sori_protocol::pb::ErrorCode;
use tokio::sync::{mpsc, oneshot};

use crate::inner::{Inner, Op};
use crate::wire::{self, Entry, Kind};
use crate::{keys, presence, scripts};

/// How often the limit events of this node are sent, in one message.
const LIMITS_EVERY: Duration = Duration::from_millis(50);

/// Sends the queued work, in order, until the bus is dropped.
pub(crate) async fn run(inner: Arc<Inner>, mut rx: mpsc::UnboundedReceiver<Op>) {
    let claim = scripts::claim();
    let release = scripts::release();
    let mut conn = inner.conn.clone();
    while let Some(op) = rx.recv().await {
        match op {
            Op::Publish(channel, envelope) => {
                let envelope = *envelope;
                let payload = wire::write_envelope(&envelope);
                let res: redis::RedisResult<i64> = conn.publish(&channel, payload).await;
                if let Err(err) = res {
                    tracing::warn!(%channel, %err, "a message to other nodes was lost: redis did not take it");
                }
            }
            Op::Claim(entry) => {
                let expires = presence::expiry(&inner);
                let online = |announce: bool| {
                    let mut envelope = inner.envelope(Kind::Online);
                    envelope.announce = announce;
                    envelope.entry = Some(entry.clone());
                    wire::write_envelope(&envelope)
                };
                let res: redis::RedisResult<Option<Vec<u8>>> = claim
                    .key(keys::PRESENCE)
                    .key(keys::PRESENCE_EXPIRY)
                    .arg(username_key(entry.username()))
                    .arg(entry.to_value())
                    .arg(expires)
                    .arg(keys::ALL)
                    .arg(online(true))
                    .arg(online(false))
                    .invoke_async(&mut conn)
                    .await;
                match res {
                    Ok(old) => replaced(&inner, &entry, old.as_deref()),
                    Err(err) => {
                        // The node's next refresh puts the entry in.
                        tracing::warn!(%err, "recording a login in redis failed");
                    }
                }
            }
            Op::Release(entry) => {
                let username = username_key(entry.username());
                let value = entry.to_value();
                let mut envelope = inner.envelope(Kind::Offline);
                envelope.entry = Some(entry);
                envelope.announce = true;
                let res: redis::RedisResult<i64> = release
                    .key(keys::PRESENCE)
                    .key(keys::PRESENCE_EXPIRY)
                    .arg(username)
                    .arg(value)
                    .arg(keys::ALL)
                    .arg(wire::write_envelope(&envelope))
                    .invoke_async(&mut conn)
                    .await;
                if let Err(err) = res {
                    // The entry expires with the TTL instead.
                    tracing::warn!(%err, "recording a logout in redis failed");
                }
            }
            Op::Flush(done) => {
                let _ = done.send(());
            }
        }
    }
}

/// After a login claimed its name (the claim told every node where the
/// user is now): the session it replaced, if on another node, is closed
/// there.
fn replaced(inner: &Inner, entry: &Entry, old: Option<&[u8]>) {
    let Some(old) = old.and_then(Entry::from_value) else {
        return;
    };
    if old.node == entry.node {
        return;
    }
    let mut envelope = inner.envelope(Kind::Replace);
    envelope.username = old.username().to_owned();
    envelope.session = old.session;
    envelope.frame = wire::frame_of(&Message::kicked(
        ErrorCode::LoggedInElsewhere,
        "this account logged in from another connection",
    ));
    inner.tell(&old.node, envelope);
}

/// Waits (a little) until everything queued so far was sent: at shutdown,
/// so the node's users leave presence cleanly.
pub(crate) async fn drain(inner: &Inner) {
    let (tx, rx) = oneshot::channel();
    inner.send(Op::Flush(tx));
    if tokio::time::timeout(Duration::from_secs(3), rx)
        .await
        .is_err()
    {
        tracing::warn!(
            "presence was not all given back to redis at shutdown; it expires with the TTL"
        );
    }
}

/// Sends this node's limit events to the others, batched, until the bus
/// is dropped.
pub(crate) async fn flush_limits(inner: Weak<Inner>) {
    let mut every = tokio::time::interval(LIMITS_EVERY);
    loop {
        every.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        let batch = std::mem::take(&mut *inner.limits.lock().unwrap_or_else(|p| p.into_inner()));
        if batch.is_empty() {
            continue;
        }
        let mut envelope = inner.envelope(Kind::Limits);
        envelope.limits = batch.iter().map(wire::LimitRecord::from_event).collect();
        inner.tell_all(envelope);
    }
}
