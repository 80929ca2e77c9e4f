//! The login throttle: delays that grow per account and per address, the
//! slot a grant reserves, and the bounds on what it remembers.

use super::*;

fn throttle_config() -> LoginThrottleConfig {
    LoginThrottleConfig {
        account_free_failures: 3,
        ip_free_failures: 5,
        base_delay: secs(1),
        max_delay: secs(8),
        forget_after: secs(600),
        max_tracked: 100,
    }
}

#[derive(Clone, Copy, Debug)]
enum Step {
    /// Ask for the delay; expect this many milliseconds (None: go ahead).
    Delay(&'static str, &'static str, Option<u64>),
    Fail(&'static str, &'static str),
    Succeed(&'static str, &'static str),
}

/// Runs `(offset, step)` against one throttle.
fn check_throttle(config: LoginThrottleConfig, steps: &[(Duration, Step)]) {
    let throttle = LoginThrottle::new(config);
    let t0 = Instant::now();
    for (n, &(offset, step)) in steps.iter().enumerate() {
        let now = t0 + offset;
        match step {
            Step::Delay(account, addr, expected) => {
                let got = throttle.delay(account, ip(addr), now);
                assert_eq!(got, expected.map(ms), "step {n}: {step:?} at {offset:?}");
            }
            Step::Fail(account, addr) => throttle.record_failure(account, ip(addr), now),
            Step::Succeed(account, addr) => throttle.record_success(account, ip(addr)),
        }
    }
}

const IP_A: &str = "192.0.2.1";
const IP_B: &str = "198.51.100.1";

/// "kim" fails from `IP_A` as often as he may without a delay
/// (`account_free_failures`), all at once.
const KIM_USES_HIS_FREE_FAILURES: &[(Duration, Step)] =
    &[(Duration::ZERO, Step::Fail("kim", IP_A)); 3];

/// Runs `first`, then `then`, against one throttle of `throttle_config()`.
fn check_throttle_after(first: &[(Duration, Step)], then: &[(Duration, Step)]) {
    check_throttle(throttle_config(), &[first, then].concat());
}

#[test]
fn login_throttle_grows_per_account() {
    use Step::{Delay, Fail};
    check_throttle(
        throttle_config(),
        &[
            (ms(0), Delay("kim", IP_A, None)),
            (ms(0), Fail("kim", IP_A)),
            (ms(0), Fail("kim", IP_B)),
            (ms(0), Delay("kim", IP_A, None)),
            (ms(0), Fail("kim", IP_A)), // third failure: from now on, delays
            (ms(0), Delay("kim", IP_A, Some(1_000))),
            (ms(0), Delay("kim", IP_B, Some(1_000))), // per account, any address
            (ms(0), Delay("lee", IP_B, None)),        // other accounts are free
            (ms(400), Delay("kim", IP_A, Some(600))),
            (ms(1_000), Delay("kim", IP_A, None)),
            (ms(1_000), Fail("kim", IP_A)), // fourth: 2 s
            (ms(1_000), Delay("kim", IP_A, Some(2_000))),
            (ms(3_000), Fail("kim", IP_A)), // fifth: 4 s
            (ms(3_000), Delay("kim", IP_A, Some(4_000))),
            (ms(7_000), Fail("kim", IP_A)), // sixth: 8 s, the cap
            (ms(7_000), Delay("kim", IP_A, Some(8_000))),
            (ms(15_000), Fail("kim", IP_A)), // seventh: still 8 s
            (ms(15_000), Delay("kim", IP_A, Some(8_000))),
        ],
    );
}

#[test]
fn login_throttle_reserves_the_slot_it_grants() {
    use Step::Delay;
    check_throttle_after(
        KIM_USES_HIS_FREE_FAILURES,
        &[
            (ms(1_000), Delay("kim", IP_A, None)),
            // A parallel attempt on another connection must wait, before
            // the first one's result is known.
            (ms(1_000), Delay("kim", IP_B, Some(1_000))),
            (ms(1_500), Delay("kim", IP_B, Some(500))),
        ],
    );
}

#[test]
fn login_throttle_success_clears_the_account() {
    use Step::{Delay, Fail, Succeed};
    check_throttle_after(
        KIM_USES_HIS_FREE_FAILURES,
        &[
            (ms(1_000), Delay("kim", IP_A, None)),
            (ms(1_000), Succeed("kim", IP_A)),
            (ms(1_000), Delay("kim", IP_A, None)),
            (ms(1_000), Fail("kim", IP_A)), // counting starts over
            (ms(1_000), Delay("kim", IP_A, None)),
        ],
    );
}

#[test]
fn login_throttle_per_address_across_accounts() {
    use Step::{Delay, Fail, Succeed};
    // Credential stuffing: one address, one try per account.
    let mut steps = Vec::new();
    for account in ["a1", "a2", "a3", "a4", "a5"] {
        steps.push((ms(0), Delay(account, IP_A, None)));
        steps.push((ms(0), Fail(account, IP_A)));
    }
    steps.extend([
        (ms(0), Delay("a6", IP_A, Some(1_000))),
        (ms(0), Delay("a6", IP_B, None)), // another address is not slowed
        (ms(1_000), Delay("a6", IP_A, None)),
        // The reservation is given back when that attempt succeeds...
        (ms(1_000), Succeed("a6", IP_A)),
        (ms(1_000), Delay("a7", IP_A, None)),
        // ...but the address's failures remain until forgotten.
        (ms(1_000), Fail("a7", IP_A)),
        (ms(1_000), Delay("a8", IP_A, Some(2_000))),
    ]);
    check_throttle(throttle_config(), &steps);
}

#[test]
fn login_throttle_forgets_old_failures() {
    use Step::{Delay, Fail};
    check_throttle_after(
        KIM_USES_HIS_FREE_FAILURES,
        &[
            (ms(0), Delay("kim", IP_A, Some(1_000))),
            // Ten minutes after the last failure, it is forgotten.
            (secs(600), Fail("kim", IP_A)),
            (secs(600), Delay("kim", IP_A, None)),
            (secs(600), Fail("kim", IP_A)),
            (secs(600), Fail("kim", IP_A)),
            (secs(600), Delay("kim", IP_A, Some(1_000))),
        ],
    );
}

#[test]
fn login_throttle_stays_bounded() {
    let throttle = LoginThrottle::new(LoginThrottleConfig {
        max_tracked: 3,
        ..throttle_config()
    });
    let t0 = Instant::now();
    for n in 0..10u8 {
        throttle.record_failure(&format!("user{n}"), IpAddr::from([192, 0, 2, n]), t0);
    }
    assert_eq!(throttle.len(), (3, 3));
    // Once forgotten, old entries make room for new ones.
    let later = t0 + secs(600);
    throttle.record_failure("late", IpAddr::from([203, 0, 113, 1]), later);
    assert_eq!(throttle.len(), (1, 1));
    // The periodic sweep runs from delay() too.
    assert_eq!(
        throttle.delay(
            "someone",
            IpAddr::from([203, 0, 113, 2]),
            later + secs(1200)
        ),
        None
    );
    assert_eq!(throttle.len(), (0, 0));
}

#[test]
fn login_throttle_cuts_long_account_keys() {
    let throttle = LoginThrottle::new(throttle_config());
    let t0 = Instant::now();
    let long = "가".repeat(1_000);
    for _ in 0..3 {
        throttle.record_failure(&long, ip(IP_A), t0);
    }
    // Cut on a character boundary, and still the same account.
    assert_eq!(throttle.delay(&long, ip(IP_B), t0), Some(secs(1)));
    let state = throttle.state.lock().unwrap();
    let key = state.accounts.entries.keys().next().expect("one account");
    assert!(key.len() <= MAX_ACCOUNT_KEY_LEN && key.chars().all(|c| c == '가'));
}
