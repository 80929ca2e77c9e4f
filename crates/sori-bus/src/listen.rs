//! The node's side of the bus: numbering its messages, the subscription
//! that delivers every node's, gap filling, and the periodic check.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use prost::Message as _;
use redis::AsyncCommands;
use redis::streams::StreamRangeReply;
use sori_core::bus::{NumberError, Numbered, ToNumber};
use sori_core::event::Event;
use sori_core::session::SessionId;
use sori_core::{Core, Delivered};
use sori_protocol::{Message, pb};
use sori_store::RoomId;
use tokio::sync::oneshot;

use crate::inner::Inner;
use crate::wire::{self, Envelope, Kind, RoomPost};
use crate::{keys, presence};

/// Presence refreshes (every third of the TTL) between reloads of the
/// whole mirror.
const MIRROR_RELOAD_EVERY: u64 = 6;

/// Most messages one gap fill reads from the store.
const STORE_FILL_MAX: u64 = 1000;

/// Numbers, logs and publishes one room message (one script call).
pub(crate) async fn number(inner: &Inner, asked: ToNumber) -> Result<Numbered, NumberError> {
    if !inner.is_up() {
        return Err(NumberError::Unavailable("not subscribed to redis".into()));
    }
    let now = asked.msg.timestamp_ms;
    let post = RoomPost {
        node: inner.node().to_owned(),
        session: asked.from.to_u64(),
        msg: Some(asked.msg),
    };
    let mut conn = inner.conn.clone();
    let res: redis::RedisResult<(i64, i64)> = inner
        .number
        .key(keys::room_meta(asked.room_id))
        .key(keys::room_log(asked.room_id))
        .arg(now)
        .arg(asked.ceiling)
        .arg(asked.seed.map(|s| s.to_string()).unwrap_or_default())
        .arg(inner.config.log_len)
        .arg(keys::room_channel(asked.room_id))
        .arg(post.encode_to_vec())
        .arg(wire::VERSION)
        .arg(asked.floor)
        .invoke_async(&mut conn)
        .await;
    match res {
        Ok((-1, _)) => Err(NumberError::NeedSeed),
        Ok((-2, last)) => Err(NumberError::NeedReservation {
            last: u64::try_from(last).unwrap_or(0),
        }),
        Ok((seq, ts)) => Ok(Numbered {
            seq: u64::try_from(seq).unwrap_or(0),
            timestamp_ms: ts,
        }),
        Err(err) => Err(NumberError::Unavailable(err.to_string())),
    }
}

/// Starts the subscription and waits (at most a few seconds) for the
/// first sync, so the node serves clients with its rooms in step.
pub(crate) async fn start(inner: Arc<Inner>) {
    let (ready, synced) = oneshot::channel();
    tokio::spawn(subscribe(inner.clone(), Some(ready)));
    tokio::spawn(upkeep(inner));
    if tokio::time::timeout(Duration::from_secs(5), synced)
        .await
        .is_err()
    {
        tracing::warn!("redis is not answering; serving without the cluster until it does");
    }
}

/// The subscription: (re)connects with backoff, resynchronises after every
/// connect, then delivers what arrives, checking every room now and then.
async fn subscribe(inner: Arc<Inner>, mut ready: Option<oneshot::Sender<()>>) {
    let mut backoff = Duration::from_millis(100);
    let mut first = true;
    loop {
        let Some(core) = inner.core() else { return };
        drop(core);
        match connect(&inner).await {
            Ok(mut pubsub) => {
                backoff = Duration::from_millis(100);
                inner.set_up(true);
                tracing::info!(node = inner.node(), "subscribed to redis");
                if let Some(core) = inner.core() {
                    if !first {
                        // Room changes and IP bans other nodes made while
                        // this one could not hear them.
                        reload_everything(&inner, &core).await;
                    }
                    if let Err(err) = resync(&inner, &core, first).await {
                        tracing::warn!(%err, "resynchronising with redis failed");
                    }
                    if let Err(err) = presence::refresh(&inner, &core, true).await {
                        tracing::warn!(%err, "refreshing presence failed");
                    }
                }
                first = false;
                if let Some(ready) = ready.take() {
                    let _ = ready.send(());
                }
                let mut check = tokio::time::interval(inner.config.check_every);
                check.tick().await;
                let mut messages = pubsub.on_message();
                // A subscription can die without a word (a host gone, a
                // partition): every check publishes a heartbeat to this
                // node's own channel, and three checks without hearing
                // anything count as a lost connection.
                let mut heard = tokio::time::Instant::now();
                loop {
                    tokio::select! {
                        msg = messages.next() => match msg {
                            Some(msg) => {
                                heard = tokio::time::Instant::now();
                                handle(&inner, &msg).await;
                            }
                            None => break,
                        },
                        _ = check.tick() => {
                            if heard.elapsed() > inner.config.check_every * 3 {
                                tracing::warn!("heard nothing from redis; reconnecting");
                                break;
                            }
                            inner.tell(inner.node(), inner.envelope(Kind::Heartbeat));
                            let Some(core) = inner.core() else { return };
                            if let Err(err) = resync(&inner, &core, false).await {
                                tracing::warn!(%err, "checking rooms against redis failed");
                            }
                        }
                    }
                }
                inner.set_up(false);
                tracing::warn!("lost redis: room messages are refused until it returns");
            }
            Err(err) => {
                tracing::warn!(%err, ?backoff, "cannot subscribe to redis; retrying");
                if let Some(ready) = ready.take() {
                    let _ = ready.send(());
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

async fn connect(inner: &Inner) -> redis::RedisResult<redis::aio::PubSub> {
    let mut pubsub = inner.client.get_async_pubsub().await?;
    pubsub.subscribe(keys::ALL).await?;
    pubsub.subscribe(keys::node_channel(inner.node())).await?;
    pubsub.psubscribe(keys::ROOM_PATTERN).await?;
    Ok(pubsub)
}

/// Refreshes presence every third of its TTL while the node runs.
async fn upkeep(inner: Arc<Inner>) {
    let mut every = tokio::time::interval(inner.config.presence_ttl / 3);
    every.tick().await;
    for round in 1u64.. {
        every.tick().await;
        let Some(core) = inner.core() else { return };
        // The mirror is reloaded every other TTL, to heal a lost notice.
        let reload_mirror = round % MIRROR_RELOAD_EVERY == 0;
        if inner.is_up()
            && let Err(err) = presence::refresh(&inner, &core, reload_mirror).await
        {
            tracing::warn!(%err, "refreshing presence failed");
        }
    }
}

/// Brings every room in step with its counter in Redis: delivers what this
/// node missed from the room's log. On the node's first sync a room's
/// position moves to the counter (which may be below the store's
/// reservation).
async fn resync(inner: &Inner, core: &Core, first: bool) -> redis::RedisResult<()> {
    let positions = core.room_positions();
    if positions.is_empty() {
        return Ok(());
    }
    let mut pipe = redis::pipe();
    for (room, _) in &positions {
        pipe.hget(keys::room_meta(*room), "seq");
    }
    let mut conn = inner.conn.clone();
    let counters: Vec<Option<u64>> = pipe.query_async(&mut conn).await?;
    for ((room, position), counter) in positions.into_iter().zip(counters) {
        match counter {
            Some(counter) if first && counter < position => core.set_room_position(room, counter),
            Some(counter) if counter > position => fill(inner, core, room, position, counter).await,
            _ => {}
        }
    }
    Ok(())
}

/// A room new on this node starts at the room's counter in Redis (its
/// position from the store may be a reservation ahead of it).
async fn start_serving(inner: &Inner, core: &Core, room: RoomId) {
    let mut conn = inner.conn.clone();
    let counter: redis::RedisResult<Option<u64>> = conn.hget(keys::room_meta(room), "seq").await;
    match counter {
        Ok(Some(counter)) => core.set_room_position(room, counter),
        Ok(None) => {}
        Err(err) => tracing::warn!(room, %err, "reading a new room's counter failed"),
    }
}

/// Reloads every room and the IP bans, after a time without Redis.
async fn reload_everything(inner: &Inner, core: &Core) {
    if let Err(err) = core.reload_ip_bans().await {
        tracing::warn!(%err, "reloading IP bans failed");
    }
    match core.reload_all_rooms().await {
        Ok(new) => {
            for room in new {
                start_serving(inner, core, room).await;
            }
        }
        Err(err) => tracing::warn!(%err, "reloading rooms failed"),
    }
}

/// Delivers one payload from the subscription.
async fn handle(inner: &Inner, msg: &redis::Msg) {
    let Some(core) = inner.core() else { return };
    let channel = msg.get_channel_name();
    let payload = msg.get_payload_bytes();
    if let Some(room) = keys::room_of_channel(channel) {
        match wire::read_room(payload) {
            Ok(numbered) => deliver(inner, &core, room, numbered).await,
            Err(err) => tracing::warn!(%channel, %err, "dropped a room message"),
        }
        return;
    }
    match wire::read_envelope(payload) {
        Ok(envelope) => directed(inner, &core, envelope).await,
        Err(err) => tracing::warn!(%channel, %err, "dropped a message from another node"),
    }
}

/// The session a room message came from, if it is on this node.
fn sender_here(inner: &Inner, post: &RoomPost) -> Option<SessionId> {
    (post.node == inner.node()).then(|| SessionId::from_u64(post.session))
}

async fn deliver(inner: &Inner, core: &Core, room: RoomId, numbered: wire::Numbered) {
    let from = sender_here(inner, &numbered.post);
    let seq = numbered.seq;
    let msg = numbered.msg;
    if let Delivered::Gap { after } = core.deliver(room, msg.clone(), from, false) {
        fill(inner, core, room, after, seq - 1).await;
        core.deliver(room, msg, from, true);
    }
}

/// Delivers a room's messages `after < seq <= upto` that this node
/// missed: from the room's log in Redis, then from the store for what the
/// log no longer holds. Numbers found in neither were never sent (handed
/// out, then lost with a crash) and are skipped.
async fn fill(inner: &Inner, core: &Core, room: RoomId, after: u64, upto: u64) {
    if upto <= after {
        return;
    }
    let mut filled = 0u64;
    let mut last = after;
    let mut conn = inner.conn.clone();
    let range: redis::RedisResult<StreamRangeReply> =
        conn.xrange(keys::room_log(room), after + 1, upto).await;
    match range {
        Ok(reply) => {
            for entry in reply.ids {
                let Some(redis::Value::BulkString(payload)) = entry.map.get("m") else {
                    continue;
                };
                let Ok(numbered) = wire::read_room(payload) else {
                    continue;
                };
                if numbered.seq <= last || numbered.seq > upto {
                    continue;
                }
                let from = sender_here(inner, &numbered.post);
                let seq = numbered.seq;
                if core.deliver(room, numbered.msg, from, true) == Delivered::Done {
                    filled += 1;
                    last = seq;
                }
            }
        }
        Err(err) => tracing::warn!(room, %err, "reading a room's log from redis failed"),
    }
    if last < upto {
        let want = u32::try_from((upto - last).min(STORE_FILL_MAX)).unwrap_or(1000);
        match core.stored_after(room, last, want).await {
            Ok(stored) => {
                for msg in stored.into_iter().filter(|m| m.seq <= upto) {
                    if core.deliver(room, msg, None, true) == Delivered::Done {
                        filled += 1;
                    }
                }
            }
            Err(err) => tracing::warn!(room, %err, "reading a room's gap from the store failed"),
        }
    }
    if filled > 0 {
        core.metrics.gaps_filled.add(filled);
        tracing::debug!(room, after, upto, filled, "filled a gap");
    }
}

/// Users online in the cluster, as this node's mirror knows them.
fn online(inner: &Inner) -> usize {
    inner.mirror.lock().unwrap_or_else(|p| p.into_inner()).len()
}

/// Work another node sent this one (or all of them).
async fn directed(inner: &Inner, core: &Core, envelope: Envelope) {
    let kind = Kind::try_from(envelope.kind).unwrap_or(Kind::Unspecified);
    let message = || wire::message_of(&envelope.frame).map(Event::push);
    match kind {
        Kind::Push => {
            if let (Some(peer), Some(event)) = (
                sori_core::bus::Directory::session_of(&core.hub, &envelope.username),
                message(),
            ) {
                peer.push(&event);
            }
        }
        Kind::Close => {
            if let Some(peer) =
                sori_core::bus::Directory::session_of_account(&core.hub, envelope.account)
            {
                peer.close(message().as_ref());
            }
        }
        Kind::Replace => {
            if let Some(peer) = sori_core::bus::Directory::session_of(&core.hub, &envelope.username)
                && peer.id.to_u64() == envelope.session
            {
                peer.close(message().as_ref());
            }
        }
        Kind::Mute => {
            if let Some(peer) =
                sori_core::bus::Directory::session_of_account(&core.hub, envelope.account)
            {
                peer.set_muted_until(envelope.until_ms);
            }
        }
        Kind::CloseNet => {
            if envelope.from_node == inner.node() {
                return;
            }
            if let Err(err) = core.reload_ip_bans().await {
                tracing::warn!(%err, "reloading IP bans failed");
            }
            if let (Ok(net), Some(event)) = (envelope.net.parse(), message()) {
                sori_core::bus::Bus::close_net(&sori_core::bus::LocalBus, &core.hub, net, &event);
            }
        }
        Kind::Online => {
            let Some(entry) = envelope.entry else { return };
            presence::remember(inner, &entry);
            if envelope.announce {
                let user = entry.user.clone();
                core.presence_notice(Message::UserJoined(pb::UserJoined { user }), online(inner));
            }
        }
        Kind::Offline => {
            let Some(entry) = envelope.entry else { return };
            presence::forget(inner, &entry);
            if envelope.announce {
                let user = entry.user.clone();
                core.presence_notice(Message::UserLeft(pb::UserLeft { user }), online(inner));
            }
        }
        Kind::RoomChanged => {
            if envelope.from_node == inner.node() {
                return;
            }
            let notices = envelope
                .frames
                .iter()
                .filter_map(|frame| wire::message_of(frame))
                .collect();
            core.room_notices(envelope.room_id, notices);
            match core.reload_room(envelope.room_id).await {
                Ok(true) => start_serving(inner, core, envelope.room_id).await,
                Ok(false) => {}
                Err(err) => {
                    tracing::warn!(room = envelope.room_id, %err, "reloading a room failed");
                }
            }
        }
        Kind::Limits => {
            if envelope.from_node == inner.node() {
                return;
            }
            if let Some(sink) = inner.limit_sink.get() {
                for record in &envelope.limits {
                    if let Some(event) = record.to_event() {
                        sink(&envelope.from_node, event);
                    }
                }
            }
        }
        Kind::Heartbeat => {}
        Kind::Unspecified => {
            tracing::warn!(kind = envelope.kind, "dropped a message of an unknown kind");
        }
    }
}
