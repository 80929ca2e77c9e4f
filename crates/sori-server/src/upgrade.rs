//! The WebSocket listener's handshake: the HTTP upgrade at `ws_path`, the
//! allowed origins, and the client's address behind trusted proxies.

use std::future::poll_fn;
use std::net::IpAddr;

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

use crate::connection::Connection;
use crate::shared::{Place, Shared, admit};
use crate::transport::{self, Fill};
use crate::web;

/// Largest upgrade request accepted, headers included.
const MAX_REQUEST_BYTES: usize = 8192;

/// A connection upgraded to WebSocket.
pub(crate) struct Upgraded {
    pub(crate) conn: Connection,
    pub(crate) write_half: transport::Writer,
    /// The client's address (behind a trusted proxy, the one it forwarded).
    pub(crate) ip: IpAddr,
    /// Where the session's clock starts: when the connection was accepted,
    /// or when the last file it was served went out (see below).
    pub(crate) since: Instant,
}

/// Reads and answers the upgrade request, within the login timeout from
/// `accepted_at`. A plain GET of one of the page's files is answered, and
/// the connection kept for the next request (up to [`web::MAX_REQUESTS`],
/// each within [`web::KEEP_ALIVE_IDLE`] of the last answer): the next may
/// be the upgrade. `None` if the upgrade was refused (the client got an
/// HTTP error), did not finish in time, or the connection closed.
pub(crate) async fn accept(
    shared: &Shared,
    mut read_half: transport::Reader,
    mut write_half: transport::Writer,
    peer_ip: IpAddr,
    place: &mut Place,
    accepted_at: Instant,
) -> Option<Upgraded> {
    let mut buf = BytesMut::new();
    let mut since = accepted_at;
    let mut deadline = accepted_at + shared.config.login_timeout;
    let mut served = 0;
    let request = loop {
        let request = match next_request(shared, &mut read_half, &mut buf, deadline).await {
            Ok(request) => request,
            Err(Some(reason)) => {
                refuse(&mut write_half, 400, &reason).await;
                return None;
            }
            Err(None) => return None,
        };
        if !request.is_plain_get() {
            break request;
        }
        // A browser asking for the page that talks to this listener.
        served += 1;
        let keep_alive =
            request.keeps_alive() && served < web::MAX_REQUESTS && !shared.shutdown.is_cancelled();
        let Some(page) = web::response(&request, keep_alive) else {
            if request.path() == shared.config.ws_path {
                // The WebSocket's path without the upgrade: a client that
                // means to upgrade and got it wrong gets 426, which says
                // how, not a 404.
                break request;
            }
            refuse(&mut write_half, 404, "not found").await;
            return None;
        };
        // A client that does not read its file is not waited for longer
        // than for its next request.
        let written = tokio::time::timeout(web::KEEP_ALIVE_IDLE, write_half.write_all(&page)).await;
        if !matches!(written, Ok(Ok(()))) {
            return None;
        }
        if !keep_alive {
            let _ = write_half.shutdown().await;
            return None;
        }
        since = Instant::now();
        deadline = since + web::KEEP_ALIVE_IDLE;
    };
    let config = &shared.config;
    if let Err(err) = request.validate() {
        refuse(&mut write_half, err.status(), &err.to_string()).await;
        return None;
    }
    if request.path() != config.ws_path {
        refuse(&mut write_half, 404, "no WebSocket endpoint here").await;
        return None;
    }
    if !sori_ws::origin_allowed(request.origin(), request.host(), &config.ws.allowed_origins) {
        refuse(&mut write_half, 403, "this origin may not connect").await;
        return None;
    }
    let ip = sori_ws::client_ip(peer_ip, request.x_forwarded_for(), &config.trusted_proxies);
    if ip != peer_ip {
        // Behind a proxy: bans, the IP policy and per-address limits apply
        // to the client, not to the proxy.
        match admit(shared, ip) {
            Ok(guard) => place.per_ip = Some(guard),
            Err(_) => {
                shared.metrics.refused_ip.inc();
                refuse(
                    &mut write_half,
                    403,
                    "connections from your address are not allowed",
                )
                .await;
                return None;
            }
        }
    }
    let accepted = sori_ws::accept_response(&request);
    if write_half.write_all(&accepted).await.is_err() {
        return None;
    }
    let conn = Connection::websocket(read_half, config.max_frame_len, buf);
    Some(Upgraded {
        conn,
        write_half,
        ip,
        since,
    })
}

/// Reads the next request head into `buf` (what follows it stays there),
/// by `deadline`. `Err(Some(reason))` for a request to answer with 400;
/// `Err(None)` to close without a word: the client closed between
/// requests, the deadline passed, or the server is shutting down.
async fn next_request(
    shared: &Shared,
    read_half: &mut transport::Reader,
    buf: &mut BytesMut,
    deadline: Instant,
) -> Result<sori_ws::Request, Option<String>> {
    let read = async {
        loop {
            match sori_ws::parse_request(buf, MAX_REQUEST_BYTES) {
                Ok(Some((request, head_len))) => {
                    let _ = buf.split_to(head_len);
                    return Ok(request);
                }
                Ok(None) => {}
                Err(err) => return Err(Some(err.to_string())),
            }
            match poll_fn(|cx| read_half.poll_fill(cx, buf, 1024)).await {
                Ok(Fill::Data(_)) | Ok(Fill::Empty) => {}
                Ok(Fill::Eof) if buf.is_empty() => return Err(None),
                Ok(Fill::Eof) => return Err(Some("the connection closed".to_owned())),
                Err(err) => return Err(Some(err.to_string())),
            }
        }
    };
    tokio::select! {
        read = tokio::time::timeout_at(deadline, read) => read.unwrap_or_else(|_| {
            tracing::debug!("no request in time on the WebSocket listener");
            Err(None)
        }),
        () = shared.shutdown.cancelled() => Err(None),
    }
}

/// Answers a refused upgrade and closes.
async fn refuse(write_half: &mut transport::Writer, status: u16, reason: &str) {
    let response = sori_ws::reject_response(status, reason);
    let _ = write_half.write_all(&response).await;
    let _ = write_half.shutdown().await;
}
