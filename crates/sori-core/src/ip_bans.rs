//! The IP bans in force: parsed ranges, checked by the edges on every
//! accept and changed by admins.

use std::net::IpAddr;
use std::sync::RwLock;

use ipnet::IpNet;
use sori_store::{Sanction, Store, StoreError};

use crate::clock::now_ms;

/// The IP bans in force, parsed.
#[derive(Default)]
pub struct IpBans {
    /// std RwLock: read on every accept, written by admins; never held
    /// across `.await`.
    bans: RwLock<Vec<(IpNet, Sanction)>>,
}

impl IpBans {
    /// Loads the bans in force from the store.
    pub(crate) async fn load(store: &dyn Store) -> Result<Self, StoreError> {
        let mut bans = Vec::new();
        for ban in store.ip_bans(now_ms()).await? {
            match parse_net(&ban.net) {
                Some(net) => bans.push((net, ban.sanction)),
                None => tracing::warn!(net = %ban.net, "ignoring an IP ban that does not parse"),
            }
        }
        Ok(IpBans {
            bans: RwLock::new(bans),
        })
    }

    /// The ban in force on `ip` now, if any.
    pub fn check(&self, ip: IpAddr) -> Option<Sanction> {
        let now = now_ms();
        let ip = canonical(ip);
        let bans = self.bans.read().unwrap_or_else(|p| p.into_inner());
        bans.iter()
            .find(|(net, sanction)| net.contains(&ip) && sanction.in_force_at(now))
            .map(|(_, sanction)| sanction.clone())
    }

    /// Takes the bans of `fresh` (reloaded from the store).
    pub(crate) fn replace_with(&self, fresh: IpBans) {
        let fresh = fresh.bans.into_inner().unwrap_or_else(|p| p.into_inner());
        *self.bans.write().unwrap_or_else(|p| p.into_inner()) = fresh;
    }

    pub(crate) fn put(&self, net: IpNet, sanction: Sanction) {
        let mut bans = self.bans.write().unwrap_or_else(|p| p.into_inner());
        bans.retain(|(n, _)| *n != net);
        bans.push((net, sanction));
    }

    pub(crate) fn remove(&self, net: IpNet) {
        let mut bans = self.bans.write().unwrap_or_else(|p| p.into_inner());
        bans.retain(|(n, _)| *n != net);
    }
}

/// An address (a one-address range) or a CIDR range, normalized.
pub(crate) fn parse_net(text: &str) -> Option<IpNet> {
    let text = text.trim();
    if let Ok(net) = text.parse::<IpNet>() {
        return Some(net.trunc());
    }
    text.parse::<IpAddr>()
        .ok()
        .map(|ip| IpNet::from(canonical(ip)))
}

/// IPv4-mapped IPv6 addresses compare as the IPv4 address they carry.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}
