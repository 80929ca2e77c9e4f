//! Hooks for the micro-benchmarks in `benches/`: not part of the API, no
//! stability promised. They drive the real fan-out (the core's room and
//! bus) on real session links and outboxes, without sockets.

use std::collections::VecDeque;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use sori_core::bus::{Bus, LocalBus, Post};
use sori_core::metrics::Metrics;
use sori_core::peer::Peer;
use sori_core::room::Room;
use sori_core::session::SessionId;
use sori_protocol::pb::UserInfo;
use sori_store::StoredRoom;

use crate::flush::{Coalescer, Pacing};
use crate::link::{Format, SessionLink, SessionPeer};
use crate::outbox::Mode;

/// One room with `members` online sessions, each with its own outbox.
pub struct Fanout {
    room: Room,
    peers: Vec<Arc<SessionPeer>>,
    sender: SessionId,
    user: UserInfo,
    metrics: Arc<Metrics>,
    coalescer: Arc<Coalescer>,
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
            // Numbers to spare: the bench never waits for a reservation.
            seq_reserved: u64::MAX / 2,
            members: Vec::new(),
            bans: Vec::new(),
            invites: Vec::new(),
        });
        // A window no bench reaches: the wakers wait in the coalescer.
        let coalescer = Arc::new(Coalescer::new(Pacing {
            max_delay: Duration::from_secs(3600),
            wakes_per_sec: 1.0,
        }));
        let ip = std::net::Ipv4Addr::LOCALHOST.into();
        let peers: Vec<Arc<SessionPeer>> = (0..=members)
            .map(|slot| {
                let slot = u32::try_from(slot).unwrap_or(u32::MAX);
                let link = SessionLink::new(1 << 20, coalescer.clone(), Format::Sori);
                Arc::new(Peer::new(SessionId::new(slot, 1), ip, link))
            })
            .collect();
        {
            let mut state = room.lock();
            for (account, peer) in peers.iter().enumerate() {
                let peer: Arc<Peer> = peer.clone();
                state.attach(peer, i64::try_from(account).unwrap_or(i64::MAX));
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
            coalescer,
            batch: VecDeque::new(),
        };
        // Every writer idle and waiting, as in a quiet room.
        fanout.drain();
        fanout
    }

    /// Posts one message as the server does for a chat: the next sequence
    /// number, one encode, a push of the shared bytes to every other
    /// member's outbox, the idle writers' wakers handed to the coalescer.
    /// Returns how many wakers the post deferred (one per idle recipient).
    pub fn post(&mut self, text: &str) -> usize {
        let before = self.coalescer.n_pending();
        let mut state = self.room.lock();
        let post = Post {
            from: self.sender,
            user: &self.user,
            text: text.to_owned(),
            now_ms: 0,
            read_at: tokio::time::Instant::now(),
            metrics: &self.metrics,
            tail_len: 0,
            gather: false,
        };
        let _ = LocalBus.publish(&self.room, &mut state, post);
        drop(state);
        let woken = self.coalescer.n_pending() - before;
        self.coalescer.forget_pending();
        woken
    }

    /// Empties every member's outbox as its writer would, and leaves each
    /// writer registered as idle (outside the timed part of a bench).
    pub fn drain(&mut self) {
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        for peer in &self.peers {
            let outbox = &peer.link.outbox;
            while let Poll::Ready(Mode::Open) = outbox.poll_take(&mut cx, &mut self.batch) {
                let n_frames = self.batch.len() as u64;
                let n_bytes = self.batch.iter().map(Bytes::len).sum();
                self.batch.clear();
                outbox.release(n_bytes, n_frames);
            }
        }
    }
}
