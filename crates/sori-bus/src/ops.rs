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
use crate::wire::{self, Entry, Envelope, Kind};
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
                let res: redis::RedisResult<Option<Vec<u8>>> = claim
                    .key(keys::PRESENCE)
                    .key(keys::PRESENCE_EXPIRY)
                    .arg(username_key(entry.username()))
                    .arg(entry.to_value())
                    .arg(expires)
                    .invoke_async(&mut conn)
                    .await;
                match res {
                    Ok(old) => claimed(&inner, entry, old.as_deref()),
                    Err(err) => {
                        // The node's next refresh puts the entry in.
                        tracing::warn!(%err, "recording a login in redis failed");
                    }
                }
            }
            Op::Release(entry) => {
                let res: redis::RedisResult<i64> = release
                    .key(keys::PRESENCE)
                    .key(keys::PRESENCE_EXPIRY)
                    .arg(username_key(entry.username()))
                    .arg(entry.to_value())
                    .invoke_async(&mut conn)
                    .await;
                match res {
                    Ok(1) => {
                        let mut envelope = inner.envelope(Kind::Offline);
                        envelope.entry = Some(entry);
                        envelope.announce = true;
                        publish_all(&inner, &mut conn, &envelope).await;
                    }
                    // A newer login holds the name: nobody left.
                    Ok(_) => {}
                    Err(err) => {
                        // The entry expires with the TTL instead.
                        tracing::warn!(%err, "recording a logout in redis failed");
                    }
                }
            }
            Op::Flush(done) => {
                let _ = done.send(());
            }
        }
    }
}

/// After a login claimed its name: the session it replaced, if on another
/// node, is closed there; everyone learns where the user is now, and is
/// told only if the user was not online before.
fn claimed(inner: &Inner, entry: Entry, old: Option<&[u8]>) {
    let old = old.and_then(Entry::from_value);
    if let Some(old) = &old
        && old.node != entry.node
    {
        let mut envelope = inner.envelope(Kind::Replace);
        envelope.username = old.username().to_owned();
        envelope.session = old.session;
        envelope.frame = wire::frame_of(&Message::kicked(
            ErrorCode::LoggedInElsewhere,
            "this account logged in from another connection",
        ));
        inner.tell(&old.node, envelope);
    }
    let mut envelope = inner.envelope(Kind::Online);
    envelope.announce = old.is_none();
    envelope.entry = Some(entry);
    inner.tell_all(envelope);
}

async fn publish_all(inner: &Inner, conn: &mut redis::aio::ConnectionManager, envelope: &Envelope) {
    let _ = inner;
    let res: redis::RedisResult<i64> = conn
        .publish(keys::ALL, wire::write_envelope(envelope))
        .await;
    if let Err(err) = res {
        tracing::warn!(%err, "a presence notice was lost: redis did not take it");
    }
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
