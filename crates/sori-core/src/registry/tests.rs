use std::sync::Arc;

use super::*;
use crate::testing::NoLink;

fn insert(registry: &mut Registry) -> SessionId {
    registry
        .insert(|id| Arc::new(Peer::new(id, std::net::Ipv4Addr::LOCALHOST.into(), NoLink)))
        .id
}

#[test]
fn id_packs_generation_high_and_slot_low() {
    let id = SessionId::new(7, 3);
    assert_eq!(id.to_u64(), (3 << 32) | 7);
    assert_eq!((id.slot(), id.generation()), (7, 3));
}

#[test]
fn freed_slot_is_reused_with_a_new_generation() {
    let mut registry = Registry::default();
    let first = insert(&mut registry);
    assert!(registry.remove(first).is_some());
    let second = insert(&mut registry);
    assert_eq!(
        second.slot(),
        first.slot(),
        "slot comes back from the free list"
    );
    assert_ne!(second.generation(), first.generation());
    assert_ne!(second, first);
}

#[test]
fn stale_id_never_reaches_the_new_occupant() {
    let mut registry = Registry::default();
    let stale = insert(&mut registry);
    registry.remove(stale);
    let current = insert(&mut registry);
    assert!(registry.remove(stale).is_none(), "a stale id frees nothing");
    assert_eq!(
        registry.peers().iter().map(|p| p.id).collect::<Vec<_>>(),
        vec![current]
    );
    assert_eq!(registry.len(), 1);
}

#[test]
fn ids_are_never_zero_even_after_generation_wraps() {
    let mut registry = Registry::default();
    let id = insert(&mut registry);
    registry.remove(id);
    registry.free[0].generation = u32::MAX;
    let id = insert(&mut registry);
    assert_eq!(id.generation(), u32::MAX);
    registry.remove(id);
    let id = insert(&mut registry);
    assert_eq!(id.generation(), 1, "generation skips 0 when it wraps");
    assert_ne!(id.to_u64(), 0);
}

#[test]
fn a_slot_is_only_its_session() {
    // One per session at the busiest: kept to a (fat) pointer.
    assert_eq!(size_of::<Option<Arc<Peer>>>(), 16);
}
