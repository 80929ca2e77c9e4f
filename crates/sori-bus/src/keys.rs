//! Redis key and channel names. A room's keys share the hash tag
//! `{r<room id>}`, so its counter, log and channel live on one shard of a
//! Redis Cluster and its script runs there; the presence keys share
//! `{presence}`. Room ids are never reused, so a room created under a
//! deleted room's name starts from fresh keys.

use sori_store::RoomId;

/// The room's counter: a hash with `seq` (the last number handed out) and
/// `ts` (the last timestamp, which never goes back).
pub(crate) fn room_meta(room: RoomId) -> String {
    format!("sori:{{r{room}}}:meta")
}

/// The room's log: a capped stream of its newest messages, entry id
/// `<seq>-1`, field `m` the payload.
pub(crate) fn room_log(room: RoomId) -> String {
    format!("sori:{{r{room}}}:log")
}

/// The channel a room's messages are published on.
pub(crate) fn room_channel(room: RoomId) -> String {
    format!("sori:{{r{room}}}:msg")
}

/// The pattern every room's channel matches.
pub(crate) const ROOM_PATTERN: &str = "sori:{r*}:msg";

/// The room id in a room channel's name.
pub(crate) fn room_of_channel(channel: &str) -> Option<RoomId> {
    channel
        .strip_prefix("sori:{r")?
        .strip_suffix("}:msg")?
        .parse()
        .ok()
}

/// Who is online: username key -> [`Entry`](crate::wire::Entry).
pub(crate) const PRESENCE: &str = "sori:{presence}:users";

/// When each presence entry expires: a sorted set, score = ms since the
/// epoch.
pub(crate) const PRESENCE_EXPIRY: &str = "sori:{presence}:expiry";

/// What every node hears.
pub(crate) const ALL: &str = "sori:all";

/// What one node hears.
pub(crate) fn node_channel(node: &str) -> String {
    format!("sori:node:{node}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_room_channel_names_its_room() {
        assert_eq!(room_of_channel(&room_channel(42)), Some(42));
        assert_eq!(room_of_channel("sori:{r}:msg"), None);
        assert_eq!(room_of_channel("sori:all"), None);
        // One hash tag for the room's keys and channel.
        for key in [room_meta(7), room_log(7), room_channel(7)] {
            assert!(key.contains("{r7}"), "{key}");
        }
    }
}
