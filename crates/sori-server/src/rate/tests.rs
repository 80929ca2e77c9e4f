//! Rate limit tests, all on explicit instants: no sleeps.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Durations computed in f32 are right to well under a millisecond.
fn assert_close(got: Duration, expected: Duration) {
    let diff = got.abs_diff(expected);
    assert!(
        diff < Duration::from_micros(10),
        "{got:?} is not {expected:?}"
    );
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("test address")
}

/// Runs `(offset from start, tokens asked, expected)` steps against one
/// bucket of `rate` per second and `burst`.
fn check_bucket(rate: f32, burst: f32, steps: &[(Duration, f32, bool)]) {
    let t0 = Instant::now();
    let mut bucket = TokenBucket::new(rate, burst, t0);
    for (step, &(offset, n, expected)) in steps.iter().enumerate() {
        assert_eq!(
            bucket.try_take(n, t0 + offset),
            expected,
            "step {step}: take {n} at {offset:?} from {bucket:?}"
        );
    }
}

#[test]
fn token_bucket_is_small() {
    assert!(
        size_of::<TokenBucket>() <= 32,
        "{}",
        size_of::<TokenBucket>()
    );
}

#[test]
fn token_bucket_starts_full_and_refuses_past_the_burst() {
    check_bucket(
        10.0,
        3.0,
        &[
            (ms(0), 1.0, true),
            (ms(0), 1.0, true),
            (ms(0), 1.0, true),
            (ms(0), 1.0, false),
            // 100 ms at 10/s is one token.
            (ms(100), 1.0, true),
            (ms(100), 1.0, false),
            // A long rest refills only up to the burst.
            (secs(3600), 3.0, true),
            (secs(3600), 1.0, false),
        ],
    );
}

#[test]
fn token_bucket_takes_nothing_when_refused() {
    check_bucket(
        1.0,
        10.0,
        &[
            (ms(0), 8.0, true),
            (ms(0), 5.0, false), // two left: refused whole
            (ms(0), 2.0, true),
            (ms(0), 11.0, false), // over the burst: never
            (secs(100), 11.0, false),
            (secs(100), 10.0, true),
        ],
    );
}

#[test]
fn token_bucket_fractions_and_bytes() {
    // 64 KiB/s with a 256 KiB burst, as the byte limit's default.
    check_bucket(
        65_536.0,
        262_144.0,
        &[
            (ms(0), 16_396.0, true), // a largest frame
            (ms(0), 245_748.0, true),
            (ms(0), 1.0, false),
            (ms(250), 16_384.0, true), // a quarter second is 16 KiB
            (ms(250), 1.0, false),
            (ms(251), 65.0, true),
        ],
    );
}

#[test]
fn token_bucket_ignores_instants_out_of_order() {
    let t0 = Instant::now();
    let mut bucket = TokenBucket::new(1.0, 1.0, t0 + secs(10));
    assert!(bucket.try_take(1.0, t0 + secs(10)));
    // An earlier instant refills nothing and does not move the clock back.
    assert!(!bucket.try_take(1.0, t0));
    assert!(!bucket.try_take(1.0, t0 + ms(10_500)));
    assert!(bucket.try_take(1.0, t0 + secs(11)));
}

#[test]
fn wait_for_tokens() {
    // A bucket of 4 per second and a burst of 2.
    assert_eq!(wait_for(1.0, 2.0, 4.0, 2.0), Duration::ZERO);
    assert_close(wait_for(1.0, 0.0, 4.0, 2.0), ms(250));
    assert_close(wait_for(2.0, 0.4, 4.0, 2.0), ms(400));
    assert_eq!(wait_for(3.0, 2.0, 4.0, 2.0), Duration::MAX);
}

fn limits(messages: (f32, f32), bytes: (f32, f32), strikes: u32, window: Duration) -> LimitsConfig {
    LimitsConfig {
        messages_per_sec: messages.0,
        messages_burst: messages.1,
        bytes_per_sec: bytes.0,
        bytes_burst: bytes.1,
        abuse_strikes: strikes,
        abuse_window: window,
        ..LimitsConfig::default()
    }
}

/// Runs `(offset, frame length, expected)` steps against one session.
fn check_session(config: &LimitsConfig, steps: &[(Duration, usize, FrameVerdict)]) {
    let mut session = SessionLimits::new(config);
    for (step, &(offset, len, expected)) in steps.iter().enumerate() {
        assert_eq!(
            session.check_frame(config, len, offset),
            expected,
            "step {step}: {len} bytes at {offset:?}"
        );
    }
}

#[test]
fn session_limits_messages_then_strikes_then_disconnect() {
    use FrameVerdict::{Accept, Disconnect, OverLimit};
    check_session(
        &limits((2.0, 2.0), (1e6, 1e6), 2, secs(10)),
        &[
            (ms(0), 20, Accept),
            (ms(0), 20, Accept),
            (ms(0), 20, OverLimit),
            (ms(500), 20, Accept), // half a second is one frame
            (ms(500), 20, OverLimit),
            (ms(500), 20, Disconnect), // third strike within the window
        ],
    );
}

#[test]
fn session_limits_bytes() {
    use FrameVerdict::{Accept, OverLimit};
    check_session(
        &limits((100.0, 100.0), (1_000.0, 2_000.0), 10, secs(60)),
        &[
            (ms(0), 1_500, Accept),
            (ms(0), 600, OverLimit), // 500 bytes left
            (ms(0), 500, Accept),    // the refused frame used no budget
            (ms(100), 100, Accept),
            (ms(100), 1, OverLimit),
        ],
    );
}

#[test]
fn session_limits_forgive_strikes_over_the_window() {
    use FrameVerdict::{Accept, Disconnect, OverLimit};
    check_session(
        &limits((1.0, 1.0), (1e6, 1e6), 2, secs(10)),
        &[
            (ms(0), 12, Accept),
            (ms(0), 12, OverLimit),
            (ms(0), 12, OverLimit),
            // Ten seconds forgive both strikes (2 per 10 s).
            (secs(10), 12, Accept),
            (secs(10), 12, OverLimit),
            (secs(10), 12, OverLimit),
            (secs(10), 12, Disconnect),
        ],
    );
}

#[test]
fn session_limits_defaults_let_a_chatty_client_through() {
    // 20 frames a second of 200 bytes for a minute never trips the default.
    let config = LimitsConfig::default();
    let mut session = SessionLimits::new(&config);
    for n in 0..1_200u64 {
        assert_eq!(
            session.check_frame(&config, 200, ms(n * 50)),
            FrameVerdict::Accept,
            "frame {n}"
        );
    }
    // A burst of 40 on top of a rested bucket passes, the 41st does not.
    let rested = secs(120);
    for _ in 0..40 {
        assert_eq!(
            session.check_frame(&config, 200, rested),
            FrameVerdict::Accept
        );
    }
    assert_eq!(
        session.check_frame(&config, 200, rested),
        FrameVerdict::OverLimit
    );
    assert_close(session.retry_after(&config, 200, rested), ms(50));
}

#[test]
fn session_limits_are_small() {
    // Every session carries them, idle or not.
    assert_eq!(size_of::<SessionLimits>(), 16);
}

#[test]
fn session_limits_keep_fractions_of_a_millisecond() {
    // 1 frame per 1.5 ms: whole-millisecond readings lose nothing over time.
    use FrameVerdict::Accept;
    let config = limits((1000.0 / 1.5, 2.0), (1e6, 1e6), 1_000, secs(1));
    let mut session = SessionLimits::new(&config);
    let mut accepted = 0;
    for us in (0..3_000_000u64).step_by(100) {
        if session.check_frame(&config, 1, Duration::from_micros(us)) == Accept {
            accepted += 1;
        }
    }
    // 3 s at 1 per 1.5 ms, plus the full bucket at the start.
    assert!((2_000..=2_002).contains(&accepted), "{accepted}");
}

#[test]
fn session_limits_clock_wraps() {
    // Past 2^32 ms on the session's clock, refills go on as before.
    use FrameVerdict::{Accept, OverLimit};
    let config = limits((1.0, 1.0), (1e6, 1e6), 10, secs(60));
    let mut session = SessionLimits::new(&config);
    let near_wrap = ms(u64::from(u32::MAX) - 500);
    assert_eq!(session.check_frame(&config, 1, near_wrap), Accept);
    assert_eq!(session.check_frame(&config, 1, near_wrap), OverLimit);
    assert_eq!(
        session.check_frame(&config, 1, near_wrap + ms(1_000)),
        Accept
    );
    assert_eq!(
        session.check_frame(&config, 1, near_wrap + ms(1_000)),
        OverLimit
    );
}

#[test]
fn client_key_groups_ipv6_by_64() {
    for (input, key) in [
        ("192.0.2.7", "192.0.2.7"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::"),
        ("2001:db8:1:2::", "2001:db8:1:2::"),
        ("::1", "::"),
    ] {
        assert_eq!(client_key(ip(input)), ip(key), "{input}");
    }
}

#[test]
fn keyed_limiter_limits_each_key_alone() {
    let limiter = KeyedLimiter::new(1.0, 2.0, 100);
    let t0 = Instant::now();
    let (a, b) = (ip("192.0.2.1"), ip("192.0.2.2"));
    for (key, offset, expected) in [
        (a, ms(0), true),
        (a, ms(0), true),
        (a, ms(0), false),
        (b, ms(0), true), // another key has its own bucket
        (b, ms(0), true),
        (b, ms(0), false),
        (a, ms(999), false),
        (a, ms(1_000), true),
    ] {
        assert_eq!(
            limiter.check(key, t0 + offset),
            expected,
            "{key} at {offset:?}"
        );
    }
}

#[test]
fn keyed_limiter_sweeps_idle_keys_and_stays_bounded() {
    let limiter = KeyedLimiter::new(1.0, 1.0, 2);
    let t0 = Instant::now();
    let key = |n: u8| IpAddr::from([192, 0, 2, n]);
    assert!(limiter.check(key(1), t0));
    assert!(limiter.check(key(2), t0));
    // Full of active keys: a new key passes untracked.
    assert!(limiter.check(key(3), t0));
    assert!(limiter.check(key(3), t0 + ms(10)));
    assert_eq!(limiter.len(), 2);
    assert!(!limiter.check(key(1), t0 + ms(10)));
    // Once the old buckets have refilled they are forgotten, making room.
    assert!(limiter.check(key(3), t0 + secs(2)));
    assert!(!limiter.check(key(3), t0 + secs(2)));
    // The periodic sweep clears the rest once a minute.
    assert!(limiter.check(key(4), t0 + secs(120)));
    assert_eq!(limiter.len(), 1);
}

/// The login throttle: per account, per address, bounded.
mod login;

#[test]
fn limits_config_defaults_and_toml() {
    let config = LimitsConfig::default();
    assert_eq!(config.messages_per_sec, 20.0);
    assert_eq!(config.bytes_burst, 262_144.0);
    assert_eq!(config.max_connections_per_ip, 64);
    assert_eq!(config.partial_frame_timeout, secs(10));
    assert_eq!(config.login.max_delay, secs(60));

    let text = r#"
        messages_per_sec = 5
        partial_frame_timeout = "3s"
        [login]
        base_delay = "500ms"
    "#;
    let parsed: LimitsConfig = toml::from_str(text).expect("valid TOML");
    assert_eq!(parsed.messages_per_sec, 5.0);
    assert_eq!(parsed.partial_frame_timeout, secs(3));
    assert_eq!(parsed.login.base_delay, ms(500));
    assert_eq!(
        parsed.messages_burst, 40.0,
        "unset keys keep their defaults"
    );
    assert!(toml::from_str::<LimitsConfig>("messages_per_second = 5").is_err());
}

#[test]
fn limits_config_validation() {
    let max_frame = sori_protocol::DEFAULT_MAX_BODY_LEN;
    assert_eq!(LimitsConfig::default().validate(max_frame), Ok(()));
    type Spoil = fn(&mut LimitsConfig);
    let cases: [(&str, Spoil); 6] = [
        ("messages_per_sec", |c| c.messages_per_sec = 0.0),
        ("bytes_per_sec", |c| c.bytes_per_sec = f32::NAN),
        ("messages_burst", |c| c.messages_burst = 0.5),
        ("bytes_burst", |c| c.bytes_burst = 16_000.0),
        ("abuse_window", |c| c.abuse_window = Duration::ZERO),
        ("base_delay", |c| c.login.base_delay = secs(120)),
    ];
    for (name, spoil) in cases {
        let mut config = LimitsConfig::default();
        spoil(&mut config);
        let err = config.validate(max_frame).expect_err(name);
        assert!(err.contains(name), "{name}: {err}");
    }
}
