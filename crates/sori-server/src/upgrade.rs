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

/// Largest upgrade request accepted, headers included.
const MAX_REQUEST_BYTES: usize = 8192;

/// Reads and answers the upgrade request. Returns the session's
/// connection, its write half and the client's address (behind a trusted
/// proxy, the one it forwarded); `None` if the upgrade was refused (the
/// client got an HTTP error) or did not finish by `deadline`.
pub(crate) async fn accept(
    shared: &Shared,
    mut read_half: transport::Reader,
    mut write_half: transport::Writer,
    peer_ip: IpAddr,
    place: &mut Place,
    deadline: Instant,
) -> Option<(Connection, transport::Writer, IpAddr)> {
    let mut buf = BytesMut::new();
    let read = async {
        loop {
            match sori_ws::parse_request(&buf, MAX_REQUEST_BYTES) {
                Ok(Some((request, head_len))) => {
                    let _ = buf.split_to(head_len);
                    return Ok(request);
                }
                Ok(None) => {}
                Err(err) => return Err(err.to_string()),
            }
            match poll_fn(|cx| read_half.poll_fill(cx, &mut buf, 1024)).await {
                Ok(Fill::Data(_)) | Ok(Fill::Empty) => {}
                Ok(Fill::Eof) => return Err("the connection closed".to_owned()),
                Err(err) => return Err(err.to_string()),
            }
        }
    };
    let request = match tokio::time::timeout_at(deadline, read).await {
        Ok(Ok(request)) => request,
        Ok(Err(reason)) => {
            refuse(&mut write_half, 400, &reason).await;
            return None;
        }
        Err(_) => {
            tracing::debug!(%peer_ip, "WebSocket handshake timed out");
            return None;
        }
    };
    let config = &shared.config;
    if request.validate() == Err(sori_ws::UpgradeError::NoUpgrade) {
        // A browser asking for the page that talks to this listener.
        match crate::web::response(request.path()) {
            Some(page) => {
                let _ = write_half.write_all(&page).await;
                let _ = write_half.shutdown().await;
            }
            None => refuse(&mut write_half, 404, "not found").await,
        }
        return None;
    }
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
    Some((conn, write_half, ip))
}

/// Answers a refused upgrade and closes.
async fn refuse(write_half: &mut transport::Writer, status: u16, reason: &str) {
    let response = sori_ws::reject_response(status, reason);
    let _ = write_half.write_all(&response).await;
    let _ = write_half.shutdown().await;
}
