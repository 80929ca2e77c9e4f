//! How a node joins the cluster, and why it could not.

use std::time::Duration;

/// How a node joins the cluster.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS.
    pub redis_url: String,
    /// This node's name, unique in the cluster.
    pub node_id: String,
    /// A presence entry lives this long unless its node refreshes it (every
    /// third of it).
    pub presence_ttl: Duration,
    /// Messages each room's log keeps in Redis, for gap filling.
    pub log_len: u64,
    /// How often every room's counter is compared with what was delivered.
    pub check_every: Duration,
}

impl ClusterConfig {
    /// A node named `node_id` on the Redis at `redis_url`, with the default
    /// timings.
    pub fn new(redis_url: impl Into<String>, node_id: impl Into<String>) -> Self {
        ClusterConfig {
            redis_url: redis_url.into(),
            node_id: node_id.into(),
            presence_ttl: Duration::from_secs(30),
            log_len: 10_000,
            check_every: Duration::from_secs(2),
        }
    }
}

/// Why the bus could not start.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL does not parse.
    #[error("bad redis url: {0}")]
    Url(redis::RedisError),
    /// Redis did not answer.
    #[error("connecting to redis: {0}")]
    Connect(redis::RedisError),
    /// The node id is empty or has characters a channel name cannot carry.
    #[error("node_id {0:?}: use letters, digits, '-', '_' and '.'")]
    NodeId(String),
}
