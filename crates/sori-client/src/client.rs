//! [`Client`]: connecting, and one method per request of the protocol.
//!
//! Here: opening the connection, its tasks, and [`Client::request`], which
//! every request goes through. The options are in `options.rs`, the one
//! method per request in `requests.rs`.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use bytes::Bytes;
use sori_protocol::{Message, encode_to_bytes};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpSocket, TcpStream, ToSocketAddrs};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::error::ClientError;
use crate::events::Events;
use crate::pending::Pending;
use crate::reader::Reader;
use crate::writer;

pub use options::{ConnectOptions, DEFAULT_MAX_RESPONSE_LEN, TlsConnect};

mod options;
mod requests;

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
