//! [`Client`]: connecting, and one method per request of the protocol.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use sori_protocol::{Message, PROTOCOL_VERSION, encode_to_bytes, pb};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpSocket, TcpStream, ToSocketAddrs};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_util::sync::CancellationToken;

use crate::error::ClientError;
use crate::events::Events;
use crate::pending::Pending;
use crate::reader::Reader;
use crate::writer;

/// A handle to one connection, for sending requests.
///
/// Cheap to clone: clones share the connection, and requests from any number
/// of tasks may be in flight at once. The connection's sending side closes
/// when the last handle is dropped.
#[derive(Debug, Clone)]
pub struct Client {
    /// Encoded frames for the writer task. The only strong senders live in
    /// `Client` handles, so dropping the last handle ends the writer.
    queue: mpsc::Sender<Bytes>,
    shared: Arc<Shared>,
}

/// The default for [`ConnectOptions::max_body_len`]: 4 MiB.
///
/// Far above the 16 KiB the server accepts from clients, because answers
/// that carry history are large: a resume can return 1,000 messages of up to
/// 2,000 bytes of text each (about 2.1 MB with their framing), and a
/// `RoomJoined` or `HistoryPage` up to 500 (about 1.1 MB).
pub const DEFAULT_MAX_RESPONSE_LEN: u32 = 4 * 1024 * 1024;

/// How to connect, and the client's limits.
#[derive(Clone)]
pub struct ConnectOptions {
    /// Largest frame body accepted from the server; a larger one closes the
    /// connection. Defaults to [`DEFAULT_MAX_RESPONSE_LEN`].
    pub max_body_len: u32,
    /// How long [`Client::request`] waits for its answer, queueing included.
    pub request_timeout: Duration,
    /// Source address to bind before connecting, so that a load test can
    /// spread many connections over 127.0.0.2, 127.0.0.3, ... and not run
    /// out of ephemeral ports. `None` lets the system choose.
    pub local_addr: Option<IpAddr>,
    /// Speak TLS to the server (which must listen with TLS).
    pub tls: Option<TlsConnect>,
}

/// How to reach a TLS server: the rustls connector (trust roots, client
/// settings) and the name its certificate must carry.
#[derive(Clone)]
pub struct TlsConnect {
    /// The connector, built from a rustls `ClientConfig`.
    pub connector: TlsConnector,
    /// The name the server's certificate is checked against.
    pub server_name: ServerName<'static>,
}

impl fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("max_body_len", &self.max_body_len)
            .field("request_timeout", &self.request_timeout)
            .field("local_addr", &self.local_addr)
            .field("tls", &self.tls.as_ref().map(|tls| &tls.server_name))
            .finish()
    }
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            max_body_len: DEFAULT_MAX_RESPONSE_LEN,
            request_timeout: Duration::from_secs(10),
            local_addr: None,
            tls: None,
        }
    }
}

/// What the handles share.
#[derive(Debug)]
struct Shared {
    /// Also held by the reader task, which completes the requests.
    pending: Arc<Pending>,
    request_timeout: Duration,
    local_addr: SocketAddr,
    peer_addr: SocketAddr,
    /// Nonces for [`Client::ping`], so that a stray Pong is not mistaken for
    /// the answer.
    nonces: AtomicU64,
    /// Cancelled when either task ends the connection, or by
    /// [`Client::close`].
    closed: CancellationToken,
}

/// Checks that a response has the expected type, and unwraps its body.
macro_rules! expect {
    ($response:expr, $variant:ident) => {
        match $response {
            Message::$variant(body) => Ok(body),
            other => Err(ClientError::Unexpected(Box::new(other))),
        }
    };
}

impl Client {
    /// Connects to a Sori server with the default [`ConnectOptions`].
    pub async fn connect(addr: impl ToSocketAddrs) -> Result<(Client, Events), ClientError> {
        Client::connect_with(addr, ConnectOptions::default()).await
    }

    /// Connects to a Sori server, trying each address `addr` resolves to.
    pub async fn connect_with(
        addr: impl ToSocketAddrs,
        opts: ConnectOptions,
    ) -> Result<(Client, Events), ClientError> {
        let stream = open(addr, opts.local_addr).await?;
        match opts.tls.clone() {
            None => Client::from_stream(stream, opts),
            Some(tls) => {
                let local_addr = stream.local_addr()?;
                let peer_addr = stream.peer_addr()?;
                let stream = tls.connector.connect(tls.server_name, stream).await?;
                let (read_half, write_half) = tokio::io::split(stream);
                Ok(Client::from_halves(
                    Box::new(read_half),
                    Box::new(write_half),
                    local_addr,
                    peer_addr,
                    opts,
                ))
            }
        }
    }

    /// Runs a client over an already connected stream; `opts.local_addr` is
    /// not used. Must be called within a tokio runtime: it spawns the
    /// connection's reader and writer tasks.
    pub fn from_stream(
        stream: TcpStream,
        opts: ConnectOptions,
    ) -> Result<(Client, Events), ClientError> {
        let local_addr = stream.local_addr()?;
        let peer_addr = stream.peer_addr()?;
        let (read_half, write_half) = stream.into_split();
        Ok(Client::from_halves(
            Box::new(read_half),
            Box::new(write_half),
            local_addr,
            peer_addr,
            opts,
        ))
    }

    /// Runs a client over the two halves of any byte stream (plain TCP, TLS,
    /// ...). Must be called within a tokio runtime: it spawns the
    /// connection's reader and writer tasks.
    pub fn from_halves(
        read_half: Box<dyn AsyncRead + Send + Unpin>,
        write_half: Box<dyn AsyncWrite + Send + Unpin>,
        local_addr: SocketAddr,
        peer_addr: SocketAddr,
        opts: ConnectOptions,
    ) -> (Client, Events) {
        let closed = CancellationToken::new();
        let pending = Arc::new(Pending::default());
        let shared = Arc::new(Shared {
            pending: Arc::clone(&pending),
            request_timeout: opts.request_timeout,
            local_addr,
            peer_addr,
            nonces: AtomicU64::new(1),
            closed: closed.clone(),
        });
        let (queue, queue_rx) = mpsc::channel(writer::QUEUE_FRAMES);
        let (events_tx, events_rx) = mpsc::unbounded_channel();

        let reader = Reader {
            socket: read_half,
            pending,
            max_body_len: opts.max_body_len,
            events: events_tx,
            writer: queue.downgrade(),
            closed: closed.clone(),
        };
        tokio::spawn(reader.run());
        tokio::spawn(writer::run(write_half, queue_rx, closed));

        (Client { queue, shared }, Events::new(events_rx))
    }

    /// Sends a request under the next request id and waits for the response
    /// with that id. An `Error` response becomes [`ClientError::Server`].
    pub async fn request(&self, message: Message) -> Result<Message, ClientError> {
        let pending = &self.shared.pending;
        let (request_id, response) = pending.register().ok_or(ClientError::Closed)?;
        // Unregisters the request however this future ends: answered, timed
        // out, failed or dropped by the caller.
        let _forget = Forget {
            pending,
            request_id,
        };
        let frame = encode_to_bytes(request_id, &message);
        let exchange = async {
            self.queue
                .send(frame)
                .await
                .map_err(|_| ClientError::Closed)?;
            // The reader drops the sender when the connection closes.
            response.await.map_err(|_| ClientError::Closed)
        };
        let response = tokio::time::timeout(self.shared.request_timeout, exchange)
            .await
            .map_err(|_| ClientError::Timeout)??;
        match response {
            Message::Error(error) => Err(ClientError::Server {
                code: error.code(),
                message: error.message,
                until_ms: error.until_ms,
            }),
            response => Ok(response),
        }
    }

    /// Says hello: checks the protocol version and learns the server's limits.
    pub async fn hello(&self) -> Result<pb::Welcome, ClientError> {
        let hello = pb::Hello {
            protocol_version: u32::from(PROTOCOL_VERSION),
            client_name: concat!("sori-client/", env!("CARGO_PKG_VERSION")).into(),
        };
        expect!(self.request(Message::Hello(hello)).await?, Welcome)
    }

    /// Creates an account; does not log in. An empty `display_name` lets
    /// the server use the username.
    pub async fn register(
        &self,
        username: &str,
        password: &str,
        display_name: &str,
    ) -> Result<(), ClientError> {
        let register = pb::Register {
            username: username.into(),
            password: password.into(),
            display_name: display_name.into(),
        };
        expect!(self.request(Message::Register(register)).await?, Ok).map(drop)
    }

    /// Logs in with a password. The answer's `session_token` (empty when
    /// the server has tokens off) logs in again until `token_expires_ms`
    /// with [`Client::login_with_token`]: keep it instead of the password.
    pub async fn login(&self, username: &str, password: &str) -> Result<pb::LoginOk, ClientError> {
        let login = pb::Login {
            username: username.into(),
            password: password.into(),
            token: String::new(),
        };
        expect!(self.request(Message::Login(login)).await?, LoginOk)
    }

    /// Logs in with a session token from an earlier [`pb::LoginOk`] or
    /// [`pb::PasswordChanged`] of this account. The answer carries the same
    /// token and expiry. A token that no longer works (expired, revoked by
    /// a logout, a ban, a password change or an admin) fails with
    /// [`ClientError::Server`] `TOKEN_INVALID`: forget it, and ask for the
    /// password.
    pub async fn login_with_token(
        &self,
        username: &str,
        token: &str,
    ) -> Result<pb::LoginOk, ClientError> {
        let login = pb::Login {
            username: username.into(),
            password: String::new(),
            token: token.into(),
        };
        expect!(self.request(Message::Login(login)).await?, LoginOk)
    }

    /// Changes this user's password. Every session token of the account is
    /// revoked; the answer carries this session's new one.
    pub async fn change_password(
        &self,
        old_password: &str,
        new_password: &str,
    ) -> Result<pb::PasswordChanged, ClientError> {
        let change = pb::ChangePassword {
            old_password: old_password.into(),
            new_password: new_password.into(),
        };
        expect!(
            self.request(Message::ChangePassword(change)).await?,
            PasswordChanged
        )
    }

    /// Changes this user's display name.
    pub async fn set_display_name(&self, name: &str) -> Result<(), ClientError> {
        let set = pb::SetDisplayName {
            display_name: name.into(),
        };
        expect!(self.request(Message::SetDisplayName(set)).await?, Ok).map(drop)
    }

    /// Sends a chat message to the lobby (room `""`).
    pub async fn chat(&self, text: &str) -> Result<pb::ChatAck, ClientError> {
        self.chat_in("", text).await
    }

    /// Sends a chat message to a room the caller is a member of (`""` is
    /// the lobby). The ack carries the message's sequence number: the
    /// sender does not get its own message pushed back.
    pub async fn chat_in(&self, room: &str, text: &str) -> Result<pb::ChatAck, ClientError> {
        let chat = pb::Chat {
            room: room.into(),
            text: text.into(),
        };
        expect!(self.request(Message::Chat(chat)).await?, ChatAck)
    }

    /// Creates a room and joins it as its owner.
    pub async fn create_room(
        &self,
        name: &str,
        topic: &str,
        invite_only: bool,
    ) -> Result<pb::RoomJoined, ClientError> {
        let create = pb::CreateRoom {
            name: name.into(),
            topic: topic.into(),
            invite_only,
        };
        expect!(self.request(Message::CreateRoom(create)).await?, RoomJoined)
    }

    /// Joins a room, or catches up on one the caller is a member of.
    ///
    /// `since_seq` 0 asks for the newest `history_limit` messages (0: the
    /// server's default); otherwise the last sequence number seen, and the
    /// answer holds exactly the messages after it, or, if too many were
    /// missed, the newest ones with `reload_required` set.
    pub async fn join_room(
        &self,
        name: &str,
        since_seq: u64,
        history_limit: u32,
    ) -> Result<pb::RoomJoined, ClientError> {
        let join = pb::JoinRoom {
            name: name.into(),
            since_seq,
            history_limit,
            room_id: 0,
        };
        expect!(self.request(Message::JoinRoom(join)).await?, RoomJoined)
    }

    /// Deletes a room (its owner or a server admin): its members get
    /// [`Event::RoomDeleted`](crate::Event::RoomDeleted).
    pub async fn delete_room(&self, name: &str) -> Result<(), ClientError> {
        let delete = pb::DeleteRoom { room: name.into() };
        expect!(self.request(Message::DeleteRoom(delete)).await?, Ok).map(drop)
    }

    /// Leaves a room: the membership ends.
    pub async fn leave_room(&self, name: &str) -> Result<(), ClientError> {
        let leave = pb::LeaveRoom { name: name.into() };
        expect!(self.request(Message::LeaveRoom(leave)).await?, Ok).map(drop)
    }

    /// The public rooms and the caller's invite-only rooms, by name.
    pub async fn list_rooms(&self) -> Result<Vec<pb::RoomInfo>, ClientError> {
        let list = expect!(
            self.request(Message::ListRooms(pb::ListRooms {})).await?,
            RoomList
        )?;
        Ok(list.rooms)
    }

    /// A room's members, sorted by username.
    pub async fn list_members(&self, room: &str) -> Result<Vec<pb::Member>, ClientError> {
        let list = pb::ListMembers { room: room.into() };
        let members = expect!(self.request(Message::ListMembers(list)).await?, MemberList)?;
        Ok(members.members)
    }

    /// A page of a room's history, oldest first: up to `limit` messages
    /// (0: the server's default) before `before_seq` (0: the newest).
    pub async fn history(
        &self,
        room: &str,
        before_seq: u64,
        limit: u32,
    ) -> Result<pb::HistoryPage, ClientError> {
        let history = pb::History {
            room: room.into(),
            before_seq,
            limit,
        };
        expect!(self.request(Message::History(history)).await?, HistoryPage)
    }

    /// Sets a room's topic (operators and the owner).
    pub async fn set_topic(&self, room: &str, topic: &str) -> Result<(), ClientError> {
        let set = pb::SetTopic {
            room: room.into(),
            topic: topic.into(),
        };
        expect!(self.request(Message::SetTopic(set)).await?, Ok).map(drop)
    }

    /// Lets a user join an invite-only room (operators and the owner).
    pub async fn invite(&self, room: &str, username: &str) -> Result<(), ClientError> {
        let invite = pb::Invite {
            room: room.into(),
            username: username.into(),
        };
        expect!(self.request(Message::Invite(invite)).await?, Ok).map(drop)
    }

    /// Ends a user's membership of a room (operators and the owner); an
    /// empty `reason` gives none.
    pub async fn kick_member(
        &self,
        room: &str,
        username: &str,
        reason: &str,
    ) -> Result<(), ClientError> {
        let kick = pb::KickMember {
            room: room.into(),
            username: username.into(),
            reason: reason.into(),
        };
        expect!(self.request(Message::KickMember(kick)).await?, Ok).map(drop)
    }

    /// Ends a user's membership of a room, if any, and keeps them out until
    /// unbanned (operators and the owner).
    pub async fn ban_member(
        &self,
        room: &str,
        username: &str,
        reason: &str,
    ) -> Result<(), ClientError> {
        let ban = pb::BanMember {
            room: room.into(),
            username: username.into(),
            reason: reason.into(),
        };
        expect!(self.request(Message::BanMember(ban)).await?, Ok).map(drop)
    }

    /// Lifts a room ban (operators and the owner).
    pub async fn unban_member(&self, room: &str, username: &str) -> Result<(), ClientError> {
        let unban = pb::UnbanMember {
            room: room.into(),
            username: username.into(),
        };
        expect!(self.request(Message::UnbanMember(unban)).await?, Ok).map(drop)
    }

    /// Grants ([`pb::RoomRole::Operator`]) or takes ([`pb::RoomRole::Member`])
    /// operator rights (the owner only).
    pub async fn set_role(
        &self,
        room: &str,
        username: &str,
        role: pb::RoomRole,
    ) -> Result<(), ClientError> {
        let set = pb::SetRole {
            room: room.into(),
            username: username.into(),
            role: role as i32,
        };
        expect!(self.request(Message::SetRole(set)).await?, Ok).map(drop)
    }

    /// Sends a private message to a user, by username.
    pub async fn whisper(
        &self,
        to_username: &str,
        text: &str,
    ) -> Result<pb::WhisperAck, ClientError> {
        let whisper = pb::Whisper {
            to_username: to_username.into(),
            text: text.into(),
        };
        expect!(self.request(Message::Whisper(whisper)).await?, WhisperAck)
    }

    /// The logged-in users, sorted by username.
    pub async fn list_users(&self) -> Result<Vec<pb::UserInfo>, ClientError> {
        let list = expect!(
            self.request(Message::ListUsers(pb::ListUsers {})).await?,
            UserList
        )?;
        Ok(list.users)
    }

    /// Pings the server and returns the round trip time.
    pub async fn ping(&self) -> Result<Duration, ClientError> {
        let nonce = self.shared.nonces.fetch_add(1, Ordering::Relaxed);
        let start = Instant::now();
        let pong = expect!(self.request(Message::Ping(pb::Ping { nonce })).await?, Pong)?;
        if pong.nonce != nonce {
            return Err(ClientError::Unexpected(Box::new(Message::Pong(pong))));
        }
        Ok(start.elapsed())
    }

    /// Logs out. The server answers Ok, then closes the connection.
    pub async fn logout(&self) -> Result<(), ClientError> {
        expect!(self.request(Message::Logout(pb::Logout {})).await?, Ok).map(drop)
    }

    /// Queues bytes to be written as they are, for tests of malformed input.
    ///
    /// Returns once the bytes are queued, not written. Responses to request
    /// ids that no [`Client::request`] allocated are dropped; use
    /// [`RawConnection`](crate::raw::RawConnection) to see them.
    pub async fn send_raw(&self, bytes: &[u8]) -> Result<(), ClientError> {
        self.queue
            .send(Bytes::copy_from_slice(bytes))
            .await
            .map_err(|_| ClientError::Closed)
    }

    /// The local address of the connection.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// The server's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.shared.peer_addr
    }

    /// Whether the connection has ended; requests then fail with
    /// [`ClientError::Closed`].
    pub fn is_closed(&self) -> bool {
        self.shared.pending.is_closed()
    }

    /// Closes the connection now, for every handle, without a `Logout`.
    ///
    /// Nothing more is read or written: frames still queued are dropped,
    /// waiting requests fail with [`ClientError::Closed`], and [`Events`]
    /// yields what had already arrived, then [`Event::Closed`](crate::Event::Closed).
    /// The server sees the connection end as if the network had failed.
    pub fn close(&self) {
        self.shared.closed.cancel();
    }
}

/// Removes a request from the pending table when its future ends.
struct Forget<'a> {
    pending: &'a Pending,
    request_id: u32,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        self.pending.forget(self.request_id);
    }
}

/// Opens a TCP connection with Nagle's algorithm off (frames are batched by
/// the writer already), bound to `local_ip` if given, trying every address
/// `addr` resolves to.
pub(crate) async fn open(
    addr: impl ToSocketAddrs,
    local_ip: Option<IpAddr>,
) -> io::Result<TcpStream> {
    let mut last_err = None;
    for peer in tokio::net::lookup_host(addr).await? {
        match open_one(peer, local_ip).await {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                return Ok(stream);
            }
            Err(err) => last_err = Some(err),
        }
    }
    Err(last_err.unwrap_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "address resolved to nothing")
    }))
}

async fn open_one(peer: SocketAddr, local_ip: Option<IpAddr>) -> io::Result<TcpStream> {
    let socket = if peer.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(ip) = local_ip {
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    socket.connect(peer).await
}
