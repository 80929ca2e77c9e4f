//! [`ConnectOptions`]: how to connect, and the client's limits.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;

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
    /// How long [`Client::request`](crate::Client::request) waits for its
    /// answer, queueing included.
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
