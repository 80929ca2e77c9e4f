use super::*;

#[test]
fn defaults_survive_a_round_trip_through_toml() {
    let text = toml::to_string(&Config::default()).unwrap();
    assert_eq!(Config::from_toml(&text).unwrap(), Config::default());
}

#[test]
fn an_empty_file_means_the_defaults() {
    assert_eq!(Config::from_toml("").unwrap(), Config::default());
}

#[test]
fn unknown_keys_are_errors_not_silently_ignored() {
    let err = Config::from_toml("max_sesions = 5").unwrap_err();
    assert!(err.to_string().contains("max_sesions"), "{err}");
    assert!(Config::from_toml("[rooms]\nmax_romos = 1").is_err());
}

#[test]
fn durations_are_human_readable() {
    let config = Config::from_toml("idle_timeout = \"1m 30s\"\nlogin_timeout = \"500ms\"").unwrap();
    assert_eq!(config.idle_timeout, Duration::from_secs(90));
    assert_eq!(config.login_timeout, Duration::from_millis(500));
}

#[test]
fn the_readme_example_parses() {
    let readme = include_str!("../../../../README.md");
    let start = readme.find("```toml\n").expect("README has a TOML example") + "```toml\n".len();
    let len = readme[start..].find("```").expect("the example ends");
    let config = Config::from_toml(&readme[start..start + len]).unwrap();
    assert_eq!(config.max_sessions, 19_000);
    assert_eq!(config.duplicate_login, DuplicateLogin::Reject);
}
