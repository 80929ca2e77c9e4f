//! The core driven directly, with no sockets: one file per request family,
//! each asserting what a client relies on. Sessions are [`Recorder`] links,
//! which see every frame as a client would decode it.

mod chat;
mod gather;
mod listing;
mod login;
mod membership;
mod moderation;
mod numbering;
mod presence;
mod room_admin;
mod whisper;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sori_protocol::Message;
use sori_protocol::pb::{self, ErrorCode};
use sori_store::{SqliteStore, Store};

use crate::bus::LocalBus;
use crate::config::{HashCost, Settings};
use crate::metrics::Metrics;
use crate::peer::Peer;
use crate::refusal::Refusal;
use crate::testing::Recorder;
use crate::{Caller, ChatStep, Core, Session};

/// Every test account's password.
const PASSWORD: &str = "correct horse";

/// The configured server admin.
const ADMIN: &str = "root";

/// Longest a test waits for the persister (acks, writes). Only a bound for
/// a broken build: the waits end as soon as what they wait for happens.
const PATIENCE: Duration = Duration::from_secs(10);

/// Selects one kind of message, cloned: `rec.first(of!(RoomJoined))`.
macro_rules! of {
    ($variant:ident) => {
        |msg: &sori_protocol::Message| match msg {
            sori_protocol::Message::$variant(inner) => Some(inner.clone()),
            _ => None,
        }
    };
}
use of;

/// Settings for tests: the cheapest password hash Argon2 allows (8 KiB,
/// one pass), one admin, everything else as shipped.
fn settings() -> Settings {
    Settings {
        password_hash: HashCost {
            memory_kib: 8,
            iterations: 1,
            parallelism: 1,
            max_concurrent: 2,
        },
        admins: vec![ADMIN.into()],
        ..Default::default()
    }
}

/// A core over a store, and the store, for tests that look behind it.
struct Harness {
    core: Core,
    store: Arc<dyn Store>,
}

/// A logged-in session.
struct User {
    peer: Arc<Peer<Recorder>>,
    dyn_peer: Arc<Peer>,
    session: Session,
    /// Request ids for [`Harness::say`], so each message's ack can be found.
    next_request: AtomicU32,
}

impl Harness {
    /// A core with the test settings over a fresh in-memory store.
    async fn new() -> Harness {
        Harness::with(|_| {}).await
    }

    /// A core with the test settings changed by `tweak`.
    async fn with(tweak: impl FnOnce(&mut Settings)) -> Harness {
        let store = SqliteStore::in_memory().await.expect("in-memory store");
        Harness::on(Arc::new(store), tweak).await
    }

    /// A core over `store` (a restart, when another core used it before).
    async fn on(store: Arc<dyn Store>, tweak: impl FnOnce(&mut Settings)) -> Harness {
        let mut settings = settings();
        tweak(&mut settings);
        let core = Core::open(
            settings,
            store.clone(),
            Arc::new(LocalBus),
            Arc::new(Metrics::default()),
        )
        .await
        .expect("core opens");
        Harness { core, store }
    }

    /// Registers `name` and logs it in; what the login pushed is dropped.
    async fn user(&self, name: &str) -> User {
        self.register(name).await;
        let user = self.login(name).await.expect("login");
        user.rec().take();
        user
    }

    async fn register(&self, name: &str) {
        self.core
            .register(pb::Register {
                username: name.into(),
                password: PASSWORD.into(),
                display_name: String::new(),
            })
            .await
            .expect("register");
    }

    /// Logs an existing account in from a new connection on localhost.
    async fn login(&self, name: &str) -> Result<User, Refusal> {
        self.login_from(name, Ipv4Addr::LOCALHOST.into()).await
    }

    async fn login_from(&self, name: &str, ip: IpAddr) -> Result<User, Refusal> {
        let peer = self.core.hub.connect(ip, Recorder::default());
        let dyn_peer: Arc<Peer> = peer.clone();
        let session = self.core.login(&dyn_peer, 1, name, PASSWORD).await?;
        Ok(User {
            peer,
            dyn_peer,
            session,
            next_request: AtomicU32::new(1000),
        })
    }

    /// Chats as an edge does (reserving numbers when the room asks to);
    /// returns the request id the ack will echo.
    async fn say(&self, user: &User, room: &str, text: &str) -> Result<u32, Refusal> {
        let request_id = user.next_request.fetch_add(1, Ordering::Relaxed);
        let caller = user.caller(request_id);
        match self.core.chat(&caller, room, text.into())? {
            ChatStep::Sent => {}
            ChatStep::Wait(text) => self.core.chat_waiting(&caller, room, text).await?,
        }
        Ok(request_id)
    }

    /// Says each text and waits until every one is acked (on disk).
    async fn say_all(&self, user: &User, room: &str, texts: &[&str]) -> Vec<u64> {
        let mut ids = Vec::new();
        for text in texts {
            ids.push(self.say(user, room, text).await.expect("chat"));
        }
        let mut seqs = Vec::new();
        for id in ids {
            seqs.push(user.ack(id).await.seq);
        }
        seqs
    }

    /// alice, bob and carol, online in "rust" (alice owns it), with what
    /// they were pushed so far dropped.
    async fn room_of_three(&self) -> [User; 3] {
        let users = [
            self.user("alice").await,
            self.user("bob").await,
            self.user("carol").await,
        ];
        self.create(&users[0], "rust").await;
        for user in &users[1..] {
            self.join(user, "rust").await;
        }
        for user in &users {
            user.rec().take();
        }
        users
    }

    /// Creates a public room owned by `owner`.
    async fn create(&self, owner: &User, name: &str) {
        self.create_with(owner, name, false).await;
    }

    async fn create_with(&self, owner: &User, name: &str, invite_only: bool) {
        let req = pb::CreateRoom {
            name: name.into(),
            topic: String::new(),
            invite_only,
        };
        self.core
            .create(&owner.caller(1), req)
            .await
            .expect("create room");
        owner.rec().take();
    }

    /// Joins `req.name` and returns the RoomJoined answer.
    async fn join_with(&self, user: &User, req: pb::JoinRoom) -> Result<pb::RoomJoined, Refusal> {
        let request_id = user.next_request.fetch_add(1, Ordering::Relaxed);
        self.core.join(&user.caller(request_id), req).await?;
        let answer = user.rec().answer(request_id).expect("answered");
        match answer {
            Message::RoomJoined(joined) => Ok(joined),
            other => panic!("join answered with {other:?}"),
        }
    }

    /// Joins a room, expecting success; what the join pushed is dropped.
    async fn join(&self, user: &User, room: &str) -> pb::RoomJoined {
        let joined = self
            .join_with(
                user,
                pb::JoinRoom {
                    name: room.into(),
                    ..Default::default()
                },
            )
            .await
            .expect("join");
        user.rec().take();
        joined
    }

    /// Ends the presence window now: what waits is delivered.
    fn flush_presence(&self) {
        self.core.hub.presence.flush();
    }

    /// The room's id on the wire.
    fn room_id(&self, name: &str) -> u64 {
        crate::membership::room_id(&self.core.hub.room(name).expect("room exists"))
    }
}

impl User {
    fn caller(&self, request_id: u32) -> Caller<'_> {
        Caller::new(
            &self.dyn_peer,
            &self.session,
            request_id,
            tokio::time::Instant::now(),
        )
    }

    fn rec(&self) -> &Recorder {
        &self.peer.link
    }

    fn name(&self) -> &str {
        &self.session.user.username
    }

    fn info(&self) -> pb::UserInfo {
        pb::UserInfo::clone(&self.session.user)
    }

    /// Waits for the ChatAck answering `request_id`.
    async fn ack(&self, request_id: u32) -> pb::ChatAck {
        eventually("a ChatAck", || match self.rec().answer(request_id)? {
            Message::ChatAck(ack) => Some(ack),
            other => panic!("chat answered with {other:?}"),
        })
        .await
    }

    /// The sequence numbers of the room messages pushed to this session.
    fn received_seqs(&self, room: &str) -> Vec<u64> {
        self.rec()
            .all(of!(ChatMessage))
            .into_iter()
            .filter(|m| m.room == room)
            .map(|m| m.seq)
            .collect()
    }
}

/// Polls `probe` until it gives a value, for what the persister task does
/// in the background; panics after [`PATIENCE`].
async fn eventually<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// The code a refused request was refused with.
fn code<T: std::fmt::Debug>(res: Result<T, Refusal>) -> ErrorCode {
    res.expect_err("the request is refused").code
}

/// The message of a close, with the Kicked it carried.
fn kicked(user: &User) -> pb::Kicked {
    match user.rec().closed() {
        Some(Some(Message::Kicked(kicked))) => kicked,
        other => panic!("expected a close with Kicked, got {other:?}"),
    }
}
