//! IP policy tests against `tests/data/test-country.mmdb` (made by
//! `scripts/make-test-mmdb.py`): 1.0.0.0/24 is KR, 2.0.0.0/24 is US,
//! 2001:db8::/32 is JP, 3.0.0.0/24 has a record without a country, and
//! nothing else is in it.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::*;

fn fixture() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/test-country.mmdb"
    ))
}

/// A configuration from short lists; any country rule brings the fixture.
fn config(
    allow: &[&str],
    deny: &[&str],
    allow_countries: &[&str],
    deny_countries: &[&str],
) -> IpPolicyConfig {
    let nets = |list: &[&str]| {
        list.iter()
            .map(|net| net.parse().expect("test CIDR"))
            .collect()
    };
    let codes = |list: &[&str]| list.iter().map(|code| code.to_string()).collect::<Vec<_>>();
    let has_countries = !allow_countries.is_empty() || !deny_countries.is_empty();
    IpPolicyConfig {
        allow: nets(allow),
        deny: nets(deny),
        allow_countries: codes(allow_countries),
        deny_countries: codes(deny_countries),
        country_db: has_countries.then(fixture),
    }
}

/// Checks every `(address, expected)` pair against one policy. `expected`
/// is "allow" or the refusal's text.
fn check(config: IpPolicyConfig, cases: &[(&str, &str)]) {
    let policy = IpPolicy::new(&config).expect("valid policy");
    for &(ip, expected) in cases {
        let ip: IpAddr = ip.parse().expect("test address");
        let got = match policy.check(ip) {
            Verdict::Allow => "allow".to_owned(),
            Verdict::Deny(reason) => reason.to_string(),
        };
        assert_eq!(got, expected, "{ip} under {config:?}");
    }
}

const KR: &str = "1.0.0.7";
const US: &str = "2.0.0.7";
const NO_COUNTRY: &str = "3.0.0.7";
const NOT_IN_DB: &str = "9.9.9.9";
const JP6: &str = "2001:db8::7";

#[test]
fn fixture_maps_the_expected_countries() {
    let reader = maxminddb::Reader::open_readfile(fixture()).expect("fixture opens");
    for (ip, expected) in [
        (KR, Some("KR")),
        (US, Some("US")),
        (JP6, Some("JP")),
        ("::ffff:1.0.0.7", None), // the reader does not map these; check() does
        (NO_COUNTRY, None),
        (NOT_IN_DB, None),
    ] {
        let ip: IpAddr = ip.parse().unwrap();
        let code = country_of(&reader, ip).map(|code| code.to_string());
        assert_eq!(code.as_deref(), expected, "{ip}");
    }
}

#[test]
fn default_allows_everyone() {
    check(
        IpPolicyConfig::default(),
        &[
            (KR, "allow"),
            (NOT_IN_DB, "allow"),
            (JP6, "allow"),
            ("10.1.2.3", "allow"),
        ],
    );
}

#[test]
fn loopback_is_always_allowed() {
    check(
        config(&["1.0.0.0/24"], &["0.0.0.0/0", "::/0"], &["KR"], &["US"]),
        &[
            ("127.0.0.1", "allow"),
            ("127.255.0.9", "allow"),
            ("::1", "allow"),
            ("::ffff:127.0.0.1", "allow"),
            (KR, "address in denied range 0.0.0.0/0"),
            ("::2", "address in denied range ::/0"),
        ],
    );
}

#[test]
fn deny_beats_allow() {
    check(
        config(&["10.0.0.0/8"], &["10.1.0.0/16"], &[], &[]),
        &[
            ("10.2.3.4", "allow"),
            ("10.1.3.4", "address in denied range 10.1.0.0/16"),
            ("11.0.0.1", "address not in the allow list"),
            ("::ffff:10.1.3.4", "address in denied range 10.1.0.0/16"),
            ("::ffff:10.2.3.4", "allow"),
        ],
    );
}

#[test]
fn ranges_are_normalised_to_their_network() {
    // "10.1.2.3/16" means 10.1.0.0/16.
    check(
        config(&[], &["10.1.2.3/16"], &[], &[]),
        &[
            ("10.1.200.1", "address in denied range 10.1.0.0/16"),
            ("10.2.0.1", "allow"),
        ],
    );
}

#[test]
fn allow_countries() {
    check(
        config(&[], &[], &["kr"], &[]),
        &[
            (KR, "allow"),
            ("::ffff:1.0.0.7", "allow"),
            (US, "connections from country US are not allowed"),
            (JP6, "connections from country JP are not allowed"),
            (NO_COUNTRY, "the address's country is unknown"),
            (NOT_IN_DB, "the address's country is unknown"),
            ("127.0.0.1", "allow"),
        ],
    );
}

#[test]
fn deny_countries() {
    check(
        config(&[], &[], &[], &["US", "JP"]),
        &[
            (KR, "allow"),
            (US, "connections from country US are not allowed"),
            (JP6, "connections from country JP are not allowed"),
            // Nothing shows these are in a denied country.
            (NO_COUNTRY, "allow"),
            (NOT_IN_DB, "allow"),
        ],
    );
}

#[test]
fn lists_and_countries_combine() {
    check(
        config(
            &["1.0.0.0/16", "2001:db8::/32"],
            &["1.0.0.128/25"],
            &["KR", "JP"],
            &[],
        ),
        &[
            (KR, "allow"),
            ("1.0.0.200", "address in denied range 1.0.0.128/25"),
            // In the allow list but not in an allowed country.
            ("1.0.1.1", "the address's country is unknown"),
            (US, "address not in the allow list"),
            (JP6, "allow"),
            ("2001:db9::1", "address not in the allow list"),
        ],
    );
}

#[test]
fn an_allowed_range_overrides_nothing_in_the_deny_list_for_ipv6() {
    check(
        config(&[], &["2001:db8:1::/48"], &[], &[]),
        &[
            ("2001:db8:1::5", "address in denied range 2001:db8:1::/48"),
            ("2001:db8:2::5", "allow"),
        ],
    );
}

#[test]
fn bad_configurations_are_refused() {
    let no_db = IpPolicyConfig {
        allow_countries: vec!["KR".into()],
        ..IpPolicyConfig::default()
    };
    assert!(matches!(
        IpPolicy::new(&no_db),
        Err(PolicyError::CountriesWithoutDatabase)
    ));

    for code in ["KOR", "K", "", "K1", "한국"] {
        let bad = IpPolicyConfig {
            deny_countries: vec![code.into()],
            country_db: Some(fixture()),
            ..IpPolicyConfig::default()
        };
        assert!(
            matches!(IpPolicy::new(&bad), Err(PolicyError::InvalidCountryCode(_))),
            "{code:?}"
        );
    }

    let missing = IpPolicyConfig {
        allow_countries: vec!["KR".into()],
        country_db: Some(PathBuf::from("/nonexistent/country.mmdb")),
        ..IpPolicyConfig::default()
    };
    assert!(matches!(
        IpPolicy::new(&missing),
        Err(PolicyError::OpenDatabase { .. })
    ));

    let not_a_db = IpPolicyConfig {
        allow_countries: vec!["KR".into()],
        country_db: Some(PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/Cargo.toml"
        ))),
        ..IpPolicyConfig::default()
    };
    assert!(matches!(
        IpPolicy::new(&not_a_db),
        Err(PolicyError::OpenDatabase { .. })
    ));
}

#[test]
fn config_parses_from_toml() {
    let text = r#"
        allow = ["10.0.0.0/8", "2001:db8::/32"]
        deny = ["10.66.0.0/16"]
        allow_countries = ["KR"]
        country_db = "data/country.mmdb"
    "#;
    let config: IpPolicyConfig = toml::from_str(text).expect("valid TOML");
    assert_eq!(config.allow.len(), 2);
    assert_eq!(config.deny[0].to_string(), "10.66.0.0/16");
    assert_eq!(config.allow_countries, ["KR"]);
    assert_eq!(config.country_db, Some(PathBuf::from("data/country.mmdb")));

    assert!(toml::from_str::<IpPolicyConfig>("allow = [\"10.0.0.0/33\"]").is_err());
    assert!(toml::from_str::<IpPolicyConfig>("alow = []").is_err());
}

#[test]
fn refusal_log_logs_once_per_address_per_window() {
    let log = RefusalLog::new(Duration::from_secs(60), 100);
    let t0 = Instant::now();
    let at = |secs: u64| t0 + Duration::from_secs(secs);
    let a: IpAddr = "203.0.113.1".parse().unwrap();
    let b: IpAddr = "203.0.113.2".parse().unwrap();
    // Two addresses in one IPv6 /64 share an entry; another /64 does not.
    let v6_a: IpAddr = "2001:db8::1".parse().unwrap();
    let v6_b: IpAddr = "2001:db8::ffff:2".parse().unwrap();
    let v6_other: IpAddr = "2001:db8:0:1::1".parse().unwrap();
    for (ip, when, expected) in [
        (a, at(0), true),
        (a, at(1), false),
        (a, at(59), false),
        (b, at(59), true),
        (a, at(60), true),
        (a, at(61), false),
        (b, at(100), false),
        (b, at(119), true),
        (v6_a, at(0), true),
        (v6_b, at(1), false),
        (v6_other, at(1), true),
        ("::ffff:203.0.113.1".parse().unwrap(), at(62), false),
    ] {
        assert_eq!(log.should_log(ip, when), expected, "{ip} at {when:?}");
    }
    assert_eq!(log.refusals(), 12);
}

#[test]
fn refusal_log_stays_bounded() {
    let log = RefusalLog::new(Duration::from_secs(60), 3);
    let t0 = Instant::now();
    let ip = |n: u8| IpAddr::from([198, 51, 100, n]);
    for n in 0..3 {
        assert!(log.should_log(ip(n), t0));
    }
    // Full of fresh entries: a new address is counted, not logged.
    assert!(!log.should_log(ip(3), t0 + Duration::from_secs(1)));
    // Still within the sweep back-off: no sweep, even though entries aged out.
    assert!(!log.should_log(ip(4), t0 + Duration::from_millis(1_500)));
    // Later the old entries are swept and new addresses are logged again.
    assert!(log.should_log(ip(5), t0 + Duration::from_secs(61)));
    assert!(log.should_log(ip(6), t0 + Duration::from_secs(61)));
    assert_eq!(log.state.lock().unwrap().last_logged.len(), 2);
    assert_eq!(log.refusals(), 7);
}
