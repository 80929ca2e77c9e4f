//! Hooks for the micro-benchmarks in `benches/`: not part of the API, no
//! stability promised. They drive the real fan-out (`RoomState::post`) on
//! real peers and outboxes, without sockets.

use std::collections::VecDeque;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use sori_protocol::pb::UserInfo;
use sori_store::StoredRoom;

use crate::metrics::Metrics;
use crate::outbox::Mode;
use crate::peer::Peer;
use crate::room::Room;
use crate::session::SessionId;

/// One room with `members` online sessions, each with its own outbox.
pub struct Fanout {
    room: Room,
    peers: Vec<Arc<Peer>>,
    sender: SessionId,
    user: UserInfo,
    metrics: Arc<Metrics>,
    wakers: Vec<Waker>,
    batch: VecDeque<Bytes>,
}

impl Fanout {
    /// A room whose `members` sessions all receive its messages; the
    /// sender is one more session, online in the room too.
    pub fn new(members: usize) -> Self {
        let room = Room::new(StoredRoom {
            id: 1,
            name: "bench".to_owned(),
            topic: String::new(),
            invite_only: false,
            owner: None,
            created_at_ms: 0,
            last_seq: 0,
            members: Vec::new(),
            bans: Vec::new(),
            invites: Vec::new(),
        });
        let ip = std::net::Ipv4Addr::LOCALHOST.into();
        let peers: Vec<Arc<Peer>> = (0..=members)
            .map(|slot| {
                let slot = u32::try_from(slot).unwrap_or(u32::MAX);
                Arc::new(Peer::new(SessionId::new(slot, 1), ip, 1 << 20))
            })
            .collect();
        {
            let mut state = room.lock();
            for (account, peer) in peers.iter().enumerate() {
                state.attach(peer.clone(), i64::try_from(account).unwrap_or(i64::MAX));
            }
        }
        let mut fanout = Fanout {
            room,
            sender: peers[0].id,
            peers,
            user: UserInfo {
                username: "alice".to_owned(),
                display_name: "Alice".to_owned(),
            },
            metrics: Arc::new(Metrics::default()),
            wakers: Vec::new(),
            batch: VecDeque::new(),
        };
        // Every writer idle and waiting, as in a quiet room.
        fanout.drain();
        fanout
    }

    /// Posts one message as the server does for a chat: the next sequence
    /// number, one encode, a push of the shared bytes to every other
    /// member's outbox, the idle writers' wakers collected. Returns how
    /// many wakers the post collected (one per idle recipient).
    pub fn post(&mut self, text: &str) -> usize {
        let read_at = tokio::time::Instant::now();
        self.room.lock().post(
            &self.room.name,
            self.sender,
            &self.user,
            text.to_owned(),
            0,
            0,
            (read_at, &self.metrics),
            &mut self.wakers,
        );
        let woken = self.wakers.len();
        self.wakers.clear();
        woken
    }

    /// Empties every member's outbox as its writer would, and leaves each
    /// writer registered as idle (outside the timed part of a bench).
    pub fn drain(&mut self) {
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        for peer in &self.peers {
            while let Poll::Ready(Mode::Open) = peer.outbox.poll_take(&mut cx, &mut self.batch) {
                let n_frames = self.batch.len() as u64;
                let n_bytes = self.batch.iter().map(Bytes::len).sum();
                self.batch.clear();
                peer.outbox.release(n_bytes, n_frames);
            }
        }
    }
}
