//! What an idle session costs: the sizes its task and its peer are held to.

use super::*;
use crate::test_support::returned_size;

#[test]
fn a_session_task_fits_a_640_byte_cell() {
    // tokio's task cell is the future plus about 96 bytes (header, core,
    // trailer), plus the tracker's token, rounded up to 128 bytes: 536
    // bytes of future keep it at 640 (it was 768 with a 648-byte future).
    let future = returned_size(&session);
    assert!(future <= 536, "the session future is {future} bytes");
    assert!(size_of::<Handler>() <= 120, "{}", size_of::<Handler>());
}

#[test]
fn a_session_peer_fits_one_160_byte_allocation() {
    // The Arc's two counts, then the peer: jemalloc's 160-byte size class
    // (it was 200 bytes, in the 224 class).
    assert!(
        size_of::<SessionPeer>() + 16 <= 160,
        "{}",
        size_of::<SessionPeer>()
    );
}

#[test]
fn a_parked_session_fits_one_256_byte_allocation() {
    // What an idle session keeps instead of its task (a 640-byte cell), its
    // registration with the runtime (256) and its Arc'd socket (48): the
    // Arc's two counts, then the parked state (jemalloc's 256-byte class).
    assert!(
        size_of::<park::Parked>() + 16 <= 256,
        "{}",
        size_of::<park::Parked>()
    );
}
