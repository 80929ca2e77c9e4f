//! An echo server built on exactly sori-ws's handshake, decoder and encoder,
//! for the Autobahn conformance run (`scripts/autobahn.sh`).
//!
//! It echoes every text and binary message as one frame with the same opcode,
//! answers pings with pongs, and does the closing handshake: it echoes the
//! client's close code (1000 if there was none), or on a protocol error sends
//! a close with the error's code, then closes the TCP connection.
//!
//! Run: `cargo run --release -p sori-ws --example echo -- 127.0.0.1:PORT`.
//! It listens on loopback only.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::{Buf, BytesMut};
use sori_ws::{
    Decoder, Event, HandshakeError, Opcode, accept_response, close, header, pong, read_request,
    reject_response,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Autobahn's 9.* cases send messages of up to 16 MiB.
const MAX_MESSAGE_LEN: usize = 16 << 20;

/// The longest request head accepted.
const MAX_HEADER_BYTES: usize = 16 << 10;

/// How long to wait for the client to finish the closing handshake after our
/// close frame before dropping the connection anyway.
const CLOSE_LINGER: Duration = Duration::from_secs(2);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".to_owned())
        .parse()
        .context("usage: echo 127.0.0.1:PORT")?;
    if !addr.ip().is_loopback() {
        bail!("refusing to listen on {addr}: loopback addresses only");
    }
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    eprintln!("echo: listening on ws://{}", listener.local_addr()?);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                eprintln!("echo: accept: {err}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        tokio::spawn(async move {
            if let Err(err) = serve(stream).await {
                eprintln!("echo: {peer}: {err:#}");
            }
        });
    }
}

/// Runs one connection: handshake, then echo until the close.
async fn serve(mut stream: TcpStream) -> anyhow::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = BytesMut::with_capacity(8 << 10);
    let request = match read_request(&mut stream, &mut buf, MAX_HEADER_BYTES).await {
        Ok(request) => request,
        // A port probe (the script's readiness check) connects and leaves.
        Err(HandshakeError::Eof) => return Ok(()),
        Err(err) => return Err(err.into()),
    };
    if let Err(err) = request.validate() {
        stream
            .write_all(&reject_response(err.status(), &err.to_string()))
            .await?;
        return Ok(());
    }
    stream.write_all(&accept_response(&request)).await?;

    let mut decoder = Decoder::new(MAX_MESSAGE_LEN);
    loop {
        // Decode every whole frame in the buffer, then read more: the same
        // shape as the server's poll-based session.
        loop {
            let event = match decoder.decode(&mut buf) {
                Ok(Some(event)) => event,
                Ok(None) => break,
                Err(err) => {
                    let frame = close(err.close_code(), "");
                    return finish(stream, &frame).await;
                }
            };
            match event {
                Event::Text(payload) => write_message(&mut stream, Opcode::Text, payload).await?,
                Event::Binary(payload) => {
                    write_message(&mut stream, Opcode::Binary, payload).await?;
                }
                Event::Ping(payload) => stream.write_all(&pong(&payload)).await?,
                Event::Pong(_) => {}
                Event::Close { code, .. } => {
                    let frame = close(code.unwrap_or(1000), "");
                    return finish(stream, &frame).await;
                }
            }
        }
        if stream.read_buf(&mut buf).await? == 0 {
            return Ok(());
        }
    }
}

/// Writes a message as one frame: the header and the shared payload in one
/// vectored write, as the server does for broadcasts.
async fn write_message(
    stream: &mut TcpStream,
    opcode: Opcode,
    payload: bytes::Bytes,
) -> anyhow::Result<()> {
    let head = header(opcode, true, payload.len());
    let mut pieces = Buf::chain(head.as_bytes(), payload);
    stream.write_all_buf(&mut pieces).await?;
    Ok(())
}

/// Sends our close frame and closes the connection: shut down our side (the
/// server closes TCP first, RFC 6455 §7.1.1), then read until the client
/// closes its side or the linger time runs out, so unread bytes do not turn
/// our FIN into a reset that could destroy the close frame in flight.
async fn finish(mut stream: TcpStream, close_frame: &[u8]) -> anyhow::Result<()> {
    stream.write_all(close_frame).await?;
    stream.shutdown().await?;
    let mut sink = [0u8; 4096];
    let drain = async {
        while stream.read(&mut sink).await? > 0 {}
        anyhow::Ok(())
    };
    // A timeout or a reset here is the client's business, not an error.
    let _ = tokio::time::timeout(CLOSE_LINGER, drain).await;
    Ok(())
}
