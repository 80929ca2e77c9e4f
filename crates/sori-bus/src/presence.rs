//! The cluster's presence: the mirror of who is online where, its refresh,
//! and the sweep that retires the users of a node that died.

use std::collections::HashMap;
use std::sync::Arc;

use redis::AsyncCommands;
use sori_core::Core;
use sori_core::clock::now_ms;
use sori_core::hub::username_key;

use crate::inner::Inner;
use crate::wire::{Entry, Kind};
use crate::{keys, scripts};

/// When an entry written now expires (ms since the epoch).
pub(crate) fn expiry(inner: &Inner) -> i64 {
    let ttl = i64::try_from(inner.config.presence_ttl.as_millis()).unwrap_or(i64::MAX);
    now_ms().saturating_add(ttl)
}

/// Records an entry in the mirror.
pub(crate) fn remember(inner: &Inner, entry: &Entry) {
    let mut mirror = inner.mirror.lock().unwrap_or_else(|p| p.into_inner());
    mirror.insert(username_key(entry.username()), entry.clone());
}

/// Drops an entry from the mirror, unless a newer one holds the name.
pub(crate) fn forget(inner: &Inner, entry: &Entry) {
    let mut mirror = inner.mirror.lock().unwrap_or_else(|p| p.into_inner());
    let key = username_key(entry.username());
    if mirror.get(&key) == Some(entry) {
        mirror.remove(&key);
    }
}

/// Reloads the mirror from the presence hash.
pub(crate) async fn reload(inner: &Inner) -> redis::RedisResult<()> {
    let mut conn = inner.conn.clone();
    let all: HashMap<String, Vec<u8>> = conn.hgetall(keys::PRESENCE).await?;
    let fresh: HashMap<String, Entry> = all
        .into_iter()
        .filter_map(|(key, bytes)| Entry::from_value(&bytes).map(|e| (key, e)))
        .collect();
    *inner.mirror.lock().unwrap_or_else(|p| p.into_inner()) = fresh;
    Ok(())
}

/// Refreshes this node's users' entries (putting back any that expired),
/// retires entries nobody refreshed (announcing each once), and, with
/// `reload_mirror`, reloads the mirror (the notices keep it current in
/// between; a reload reads the whole hash, so it is not done every time).
pub(crate) async fn refresh(
    inner: &Arc<Inner>,
    core: &Core,
    reload_mirror: bool,
) -> redis::RedisResult<()> {
    let mut conn = inner.conn.clone();
    let expires = expiry(inner);
    let mine: Vec<Entry> = core
        .hub
        .logged_in()
        .into_iter()
        .map(|online| Entry {
            node: inner.node().to_owned(),
            session: online.peer.id.to_u64(),
            account: online.account_id,
            user: Some(sori_protocol::pb::UserInfo::clone(&online.user)),
        })
        .collect();
    for chunk in mine.chunks(500) {
        let script = scripts::refresh();
        let mut call = script.key(keys::PRESENCE);
        call.key(keys::PRESENCE_EXPIRY).arg(expires);
        for entry in chunk {
            call.arg(username_key(entry.username()))
                .arg(entry.to_value());
        }
        let back: Vec<Vec<u8>> = call.invoke_async(&mut conn).await?;
        for bytes in back {
            if let Some(entry) = Entry::from_value(&bytes) {
                let mut envelope = inner.envelope(Kind::Online);
                envelope.entry = Some(entry);
                envelope.announce = true;
                inner.tell_all(envelope);
            }
        }
    }
    let gone: Vec<Vec<u8>> = scripts::sweep()
        .key(keys::PRESENCE)
        .key(keys::PRESENCE_EXPIRY)
        .arg(now_ms())
        .invoke_async(&mut conn)
        .await?;
    for bytes in gone {
        if let Some(entry) = Entry::from_value(&bytes) {
            tracing::info!(user = entry.username(), node = %entry.node, "presence expired");
            let mut envelope = inner.envelope(Kind::Offline);
            envelope.entry = Some(entry);
            envelope.announce = true;
            inner.tell_all(envelope);
        }
    }
    if reload_mirror {
        reload(inner).await?;
    }
    Ok(())
}
