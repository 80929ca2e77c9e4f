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
//!
//! A bus that numbers off this node says so ([`Bus::numbers_remotely`]):
//! chat then awaits [`Bus::number`] (a boxed future, so the trait stays
//! object-safe), and the bus hands every numbered message it receives,
//! this node's own included, to [`Core::deliver`](crate::Core::deliver).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use std::net::IpAddr;

use ipnet::IpNet;
use sori_protocol::Message;
use sori_protocol::pb::{self, UserInfo};
use sori_store::{AccountId, RoomId};
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
    /// Gather the message for the edge's next write pass instead of
    /// pushing it now (`room/gather.rs`).
    pub gather: bool,
}

/// A future a bus returns: boxed, so [`Bus`] stays object-safe.
pub type BusFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A room message for a bus that numbers it off this node.
#[derive(Debug, Clone)]
pub struct ToNumber {
    /// The room's database id.
    pub room_id: RoomId,
    /// The sending session on this node.
    pub from: SessionId,
    /// The message, with `seq` 0 and `timestamp_ms` this node's clock.
    pub msg: pb::ChatMessage,
    /// The highest number this node's reservation allows.
    pub ceiling: u64,
    /// The room's last number delivered here: a counter below it went back
    /// (Redis restored from an old snapshot) and must be seeded again.
    pub floor: u64,
    /// Where to start the room's counter if the bus lost it: what the store
    /// records as handed out (`None` until the bus asked for it).
    pub seed: Option<u64>,
}

/// The number and timestamp a bus gave a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Numbered {
    /// The room's sequence number.
    pub seq: u64,
    /// The room's timestamp: never behind the room's previous one.
    pub timestamp_ms: i64,
}

/// Why a bus did not number a message.
#[derive(Debug, thiserror::Error)]
pub enum NumberError {
    /// The bus lost the room's counter, or it went back below `floor`: ask
    /// again with a seed.
    #[error("the room's counter is gone")]
    NeedSeed,
    /// The counter reached `ceiling`: reserve more, then ask again.
    #[error("the room's numbers are used up to {last}")]
    NeedReservation {
        /// The counter now.
        last: u64,
    },
    /// The bus cannot be reached; nothing was numbered or sent.
    #[error("the bus is unavailable: {0}")]
    Unavailable(String),
}

/// A user online on this node, as a bus records it.
#[derive(Debug, Clone)]
pub struct Presence {
    /// The session.
    pub session: SessionId,
    /// Its account.
    pub account_id: AccountId,
    /// The user as shown.
    pub user: Arc<UserInfo>,
}

/// What one node's per-address and per-account limits saw, told to the
/// other nodes, so those limits hold for the cluster as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitEvent {
    /// A new connection from this address passed the new-connection rate.
    Accepted(IpAddr),
    /// A connection from this address opened.
    Opened(IpAddr),
    /// A connection from this address closed.
    Closed(IpAddr),
    /// A password check for `account` (normalised) from `ip` failed.
    LoginFailed {
        /// The normalised username.
        account: String,
        /// The client's address.
        ip: IpAddr,
    },
    /// A password check for `account` from `ip` succeeded.
    LoginSucceeded {
        /// The normalised username.
        account: String,
        /// The client's address.
        ip: IpAddr,
    },
    /// Every open connection per address on the sending node, sent now and
    /// then so the counts heal (a missed delta, a node that died).
    Snapshot(Vec<(IpAddr, u32)>),
}

/// Where a node applies what other nodes' limits saw: called with the
/// sending node's id.
pub type LimitSink = Arc<dyn Fn(&str, LimitEvent) + Send + Sync>;

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

    /// No longer called: presence notices (UserJoined, UserLeft) reach a
    /// node's lobby through its presence batch (`presence.rs`), queued by
    /// the hub or, when the bus [relays them](Bus::relays_presence), by
    /// [`Core::presence_notice`](crate::Core::presence_notice). Kept, with
    /// a default that does nothing, until no bus implements it.
    fn presence(&self, lobby: &RoomState, event: Event) {
        let _ = (lobby, event);
    }

    /// Whether this node's own logins and logouts come back to it through
    /// [`Core::presence_notice`](crate::Core::presence_notice) with every
    /// other node's (the default: a cluster bus, where only the bus knows
    /// whether a login replaced one on another node). The single node's
    /// bus says no, and the hub queues its notices itself.
    fn relays_presence(&self) -> bool {
        true
    }

    /// Every user online, sorted by username.
    fn online_users(&self, here: &dyn Directory) -> Vec<UserInfo>;

    /// Mutes `account`'s session wherever it is until `until_ms` (0:
    /// unmute); false if it is not online.
    fn mute(&self, here: &dyn Directory, account: AccountId, until_ms: i64) -> bool {
        match here.session_of_account(account) {
            Some(peer) => {
                peer.set_muted_until(until_ms);
                true
            }
            None => false,
        }
    }

    /// Whether room messages are numbered off this node: chat then awaits
    /// [`Bus::number`] instead of calling [`Bus::publish`].
    fn numbers_remotely(&self) -> bool {
        false
    }

    /// Numbers a room message and publishes it to every node. Only called
    /// when [`Bus::numbers_remotely`].
    fn number(&self, msg: ToNumber) -> BusFuture<Result<Numbered, NumberError>> {
        let _ = msg;
        Box::pin(std::future::ready(Err(NumberError::Unavailable(
            "this bus numbers room messages itself".to_owned(),
        ))))
    }

    /// A user logged in here (the duplicate-login rule of this node already
    /// applied). Returns at once.
    fn logged_in(&self, who: &Presence) {
        let _ = who;
    }

    /// A user logged out here (not replaced by a newer login here).
    /// Returns at once.
    fn logged_out(&self, who: &Presence) {
        let _ = who;
    }

    /// A room's stored state (members, roles, topic, bans, invites) changed
    /// here, or it was created or deleted: other nodes push `notices` to the
    /// room's members online there (before the change, so a member who was
    /// removed gets the notice of it as their last frame of the room), then
    /// reload it. Returns at once.
    fn room_changed(&self, room_id: RoomId, notices: &[Message]) {
        let _ = (room_id, notices);
    }

    /// Tells the other nodes what this node's limits saw. Returns at once;
    /// a single node has nobody to tell.
    fn limit_event(&self, event: LimitEvent) {
        let _ = event;
    }

    /// Where to apply what other nodes' limits saw.
    fn on_limit_events(&self, sink: LimitSink) {
        let _ = sink;
    }

    /// Whether this node can serve (a cluster bus: while it reaches its
    /// Redis); `Err` says why not. Edges report it (`/readyz`).
    fn ready(&self) -> Result<(), String> {
        Ok(())
    }
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
        Ok(state.fan_out(msg, post.from, probe, post.tail_len, post.gather))
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

    fn relays_presence(&self) -> bool {
        false
    }

    fn online_users(&self, here: &dyn Directory) -> Vec<UserInfo> {
        here.users()
    }
}
