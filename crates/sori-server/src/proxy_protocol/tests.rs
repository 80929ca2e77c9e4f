use std::net::{Ipv4Addr, Ipv6Addr};

use tokio::io::AsyncWriteExt;

use super::*;

const SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
const TIMEOUT: Duration = Duration::from_secs(5);
/// What follows the header on the wire: the session's first bytes, which
/// `read_v2` must leave alone.
const AFTER: &[u8] = b"\x34\x01frame bytes";

/// A v2 header: signature, version 2 with `command`, `family_protocol`,
/// the length, then `payload` (addresses and TLVs).
fn header(command: u8, family_protocol: u8, payload: &[u8]) -> Vec<u8> {
    let mut bytes = SIGNATURE.to_vec();
    bytes.push(0x20 | command);
    bytes.push(family_protocol);
    bytes.extend_from_slice(&u16::try_from(payload.len()).unwrap().to_be_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

fn ipv4_payload() -> Vec<u8> {
    let mut payload = vec![];
    payload.extend_from_slice(&[203, 0, 113, 7]); // source
    payload.extend_from_slice(&[10, 0, 0, 1]); // destination
    payload.extend_from_slice(&51000u16.to_be_bytes());
    payload.extend_from_slice(&5252u16.to_be_bytes());
    payload
}

/// Runs `read_v2` over `header` followed by [`AFTER`], and returns its
/// answer and the bytes it left unread.
async fn check(header: &[u8]) -> (Result<Option<SocketAddr>, ProxyError>, Vec<u8>) {
    let bytes = [header, AFTER].concat();
    let mut stream = bytes.as_slice();
    let res = read_v2(&mut stream, TIMEOUT).await;
    (res, stream.to_vec())
}

#[tokio::test]
async fn a_proxy_header_over_ipv4_names_the_client() {
    let (res, rest) = check(&header(0x1, 0x11, &ipv4_payload())).await;
    let client = SocketAddr::from((Ipv4Addr::new(203, 0, 113, 7), 51000));
    assert_eq!(res.unwrap(), Some(client));
    assert_eq!(rest, AFTER);
}

#[tokio::test]
async fn a_proxy_header_over_ipv6_names_the_client() {
    let source: Ipv6Addr = "2001:db8::7".parse().unwrap();
    let destination: Ipv6Addr = "2001:db8::1".parse().unwrap();
    let mut payload = source.octets().to_vec();
    payload.extend_from_slice(&destination.octets());
    payload.extend_from_slice(&40000u16.to_be_bytes());
    payload.extend_from_slice(&5252u16.to_be_bytes());
    let (res, rest) = check(&header(0x1, 0x21, &payload)).await;
    assert_eq!(res.unwrap(), Some(SocketAddr::from((source, 40000))));
    assert_eq!(rest, AFTER);
}

#[tokio::test]
async fn a_local_header_keeps_the_sockets_address() {
    let (res, rest) = check(&header(0x0, 0x00, &[])).await;
    assert_eq!(res.unwrap(), None);
    assert_eq!(rest, AFTER);
    // LOCAL may still carry addresses; they are not the client's.
    let (res, rest) = check(&header(0x0, 0x11, &ipv4_payload())).await;
    assert_eq!(res.unwrap(), None);
    assert_eq!(rest, AFTER);
}

#[tokio::test]
async fn tlvs_after_the_addresses_are_read_and_skipped() {
    let mut payload = ipv4_payload();
    payload.extend_from_slice(&[0x04, 0x00, 0x03, 1, 2, 3]); // NOOP, 3 bytes
    payload.extend_from_slice(&[0x02, 0x00, 0x04]); // AUTHORITY "a.io"
    payload.extend_from_slice(b"a.io");
    let (res, rest) = check(&header(0x1, 0x11, &payload)).await;
    let client = SocketAddr::from((Ipv4Addr::new(203, 0, 113, 7), 51000));
    assert_eq!(res.unwrap(), Some(client));
    assert_eq!(rest, AFTER);
}

#[tokio::test]
async fn a_bad_signature_is_refused_after_twelve_bytes() {
    let mut bytes = header(0x1, 0x11, &ipv4_payload());
    bytes[4] = b'X';
    let (res, rest) = check(&bytes).await;
    assert!(matches!(res, Err(ProxyError::BadSignature)), "{res:?}");
    assert_eq!(rest.len(), bytes.len() - 12 + AFTER.len());
    // A Sori frame where a header belongs: 12 bytes, then refused.
    let (res, _) = check(b"\x34\x01\0\0\0\0\0\0\0\0\0\0").await;
    assert!(matches!(res, Err(ProxyError::BadSignature)), "{res:?}");
}

#[tokio::test]
async fn a_truncated_header_is_refused() {
    let whole = header(0x1, 0x11, &ipv4_payload());
    for len in [0, 5, 12, 15, 16, whole.len() - 1] {
        let mut stream = &whole[..len];
        let res = read_v2(&mut stream, TIMEOUT).await;
        assert!(matches!(res, Err(ProxyError::Truncated)), "{len}: {res:?}");
    }
}

#[tokio::test]
async fn malformed_and_unsupported_headers_are_refused() {
    let malformed = [
        // Version 1 in the binary format.
        {
            let mut bytes = header(0x1, 0x11, &ipv4_payload());
            bytes[12] = 0x11;
            bytes
        },
        // Command 0xF.
        header(0xF, 0x11, &ipv4_payload()),
        // Family 0x4.
        header(0x1, 0x41, &ipv4_payload()),
        // An IPv4 header too short for its addresses.
        header(0x1, 0x11, &ipv4_payload()[..8]),
    ];
    for bytes in malformed {
        let (res, _) = check(&bytes).await;
        assert!(
            matches!(res, Err(ProxyError::Malformed(_))),
            "{bytes:?}: {res:?}"
        );
    }
    for (family_protocol, payload) in [
        (0x12, ipv4_payload()), // UDP over IPv4
        (0x01, vec![]),         // unspecified family
        (0x31, vec![0; 216]),   // a Unix socket
    ] {
        let (res, _) = check(&header(0x1, family_protocol, &payload)).await;
        assert!(matches!(res, Err(ProxyError::Unsupported(_))), "{res:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_header_that_stops_halfway_times_out() {
    let (mut client, mut server) = tokio::io::duplex(64);
    client.write_all(&SIGNATURE[..6]).await.unwrap();
    let res = read_v2(&mut server, TIMEOUT).await;
    assert!(
        matches!(res, Err(ProxyError::Timeout(t)) if t == TIMEOUT),
        "{res:?}"
    );
    drop(client);
}

#[tokio::test]
async fn over_a_real_socket_the_frames_after_the_header_stay_unread() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let bytes = [header(0x1, 0x11, &ipv4_payload()), AFTER.to_vec()].concat();
    let sender = tokio::spawn(async move {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.write_all(&bytes).await.unwrap();
        stream.shutdown().await.unwrap();
    });
    let (mut stream, _) = listener.accept().await.unwrap();
    let client = read_v2(&mut stream, TIMEOUT).await.unwrap();
    assert_eq!(
        client,
        Some(SocketAddr::from((Ipv4Addr::new(203, 0, 113, 7), 51000)))
    );
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).await.unwrap();
    assert_eq!(rest, AFTER);
    sender.await.unwrap();
}
