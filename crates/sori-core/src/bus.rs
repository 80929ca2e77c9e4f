//! The seam for everything that crosses sessions: room messages, pushes to
//! a user, kicks, presence.
//!
//! Request code never reaches another session directly; it asks the
//! [`Bus`]. [`LocalBus`] is the single node: it numbers a room's messages
//! under the room's lock and hands them to the sessions online here. A
//! cluster bus (Redis) implements the same trait: its `publish` numbers the
//! message with an atomic script (increment the room's counter, append to
//! the room's stream, publish), and every node delivers what it receives to
//! its own sessions in sequence order. Who numbers a room's messages is
//! therefore always the bus, never the request code.

use std::sync::Arc;

use ipnet::IpNet;
use sori_protocol::pb::{self, UserInfo};
use sori_store::AccountId;
use tokio::time::Instant;

use crate::event::Event;
use crate::ip_bans::canonical;
use crate::metrics::{Metrics, Probe};
use crate::peer::Peer;
use crate::room::{NeedReservation, Room, RoomState};
use crate::session::SessionId;

/// A room message before it has a number.
pub struct Post<'a> {
    /// The sending session (which gets a ChatAck, not the message).
    pub from: SessionId,
    /// The sender as shown.
    pub user: &'a UserInfo,
    /// The text, already checked.
    pub text: String,
    /// The wall clock now, ms since the epoch.
    pub now_ms: i64,
    /// When the message was read, to time its fan-out.
    pub read_at: Instant,
    /// Where fan-out times are recorded.
    pub metrics: &'a Arc<Metrics>,
    /// Messages the room keeps in memory besides those not yet on disk.
    pub tail_len: usize,
}

/// Where this node's sessions are: what a bus needs of the node's hub to
/// deliver to the sessions it holds.
pub trait Directory {
    /// The session logged in as `username` here, if any.
    fn session_of(&self, username: &str) -> Option<Arc<Peer>>;
    /// The session logged in to `account` here, if any.
    fn session_of_account(&self, account: AccountId) -> Option<Arc<Peer>>;
    /// Every session connected here, logged in or not.
    fn sessions(&self) -> Vec<Arc<Peer>>;
    /// Every user logged in here, sorted by username.
    fn users(&self) -> Vec<UserInfo>;
}

/// Everything that crosses sessions goes through this; passed to the core
/// as `Arc<dyn Bus>`, so the server is not generic over it.
///
/// Every method returns at once: pushes never wait.
pub trait Bus: Send + Sync + 'static {
    /// Numbers a room message and hands it to every member online, in the
    /// room's one order. Called with the room's lock held: local delivery
    /// happens in the same critical section as the numbering.
    fn publish(
        &self,
        room: &Room,
        state: &mut RoomState,
        post: Post<'_>,
    ) -> Result<pb::ChatMessage, NeedReservation>;

    /// A push to the session of `username` wherever it is logged in; false
    /// if nobody is.
    fn to_user(&self, here: &dyn Directory, username: &str, event: &Event) -> bool;

    /// Ends the session of `account` wherever it is, with `last`; false if
    /// it is not online.
    fn close_user(&self, here: &dyn Directory, account: AccountId, last: &Event) -> bool;

    /// Ends a session that a newer login of the same account replaced.
    fn replace(&self, old: &Peer, last: &Event);

    /// Ends every session from an address in `net` (IP bans).
    fn close_net(&self, here: &dyn Directory, net: IpNet, last: &Event);

    /// Tells everyone that a user came online or went offline (UserJoined,
    /// UserLeft), with the lobby's lock held.
    fn presence(&self, lobby: &RoomState, event: Event);

    /// Every user online, sorted by username.
    fn online_users(&self, here: &dyn Directory) -> Vec<UserInfo>;
}

/// The single node's bus: everything is delivered in this process.
#[derive(Debug, Default)]
pub struct LocalBus;

impl Bus for LocalBus {
    fn publish(
        &self,
        room: &Room,
        state: &mut RoomState,
        post: Post<'_>,
    ) -> Result<pb::ChatMessage, NeedReservation> {
        let (seq, timestamp_ms) = state.next_number(post.now_ms)?;
        let msg = pb::ChatMessage {
            room: room.name.clone(),
            seq,
            timestamp_ms,
            from: Some(post.user.clone()),
            text: post.text,
        };
        let probe = |recipients| {
            Some(Arc::new(Probe::new(
                post.read_at,
                recipients,
                post.metrics.clone(),
            )))
        };
        Ok(state.fan_out(msg, post.from, probe, post.tail_len))
    }

    fn to_user(&self, here: &dyn Directory, username: &str, event: &Event) -> bool {
        match here.session_of(username) {
            Some(peer) => {
                peer.push(event);
                true
            }
            None => false,
        }
    }

    fn close_user(&self, here: &dyn Directory, account: AccountId, last: &Event) -> bool {
        match here.session_of_account(account) {
            Some(peer) => {
                peer.close(Some(last));
                true
            }
            None => false,
        }
    }

    fn replace(&self, old: &Peer, last: &Event) {
        old.close(Some(last));
    }

    fn close_net(&self, here: &dyn Directory, net: IpNet, last: &Event) {
        for peer in here.sessions() {
            if net.contains(&canonical(peer.ip)) {
                peer.close(Some(last));
            }
        }
    }

    fn presence(&self, lobby: &RoomState, event: Event) {
        lobby.push_all(&event, None);
    }

    fn online_users(&self, here: &dyn Directory) -> Vec<UserInfo> {
        here.users()
    }
}
