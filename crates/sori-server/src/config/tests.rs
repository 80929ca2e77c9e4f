use std::fmt;

use clap::{Args as _, FromArgMatches as _};

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

/// What the binary does: the file over the defaults, then the flags that
/// were given over the file.
fn load(file: &str, flags: &[&str]) -> Config {
    let mut config = Config::from_toml(file).unwrap();
    let matches = command().try_get_matches_from(flags).unwrap();
    config.update_from_arg_matches(&matches).unwrap();
    config
}

/// The command as the binary builds it: the "update" form, in which no flag
/// is required.
fn command() -> clap::Command {
    Config::augment_args_for_update(clap::Command::new("sori-server").no_binary_name(true))
}

/// One setting through the four layers: its default, a file that sets it, a
/// flag over that file, and the file with an unrelated flag.
fn check<T: PartialEq + fmt::Debug>(
    get: impl Fn(&Config) -> T,
    file: &str,
    flag: &[&str],
    (default, from_file, from_flag): (T, T, T),
) {
    assert_eq!(get(&load("", &[])), default, "the default");
    assert_eq!(
        get(&load(file, &[])),
        from_file,
        "the file over the default"
    );
    assert_eq!(get(&load("", flag)), from_flag, "the flag over the default");
    assert_eq!(get(&load(file, flag)), from_flag, "the flag over the file");
    let other = ["--server-name", "other"];
    assert_eq!(
        get(&load(file, &other)),
        from_file,
        "an absent flag keeps the file's value"
    );
}

#[test]
fn a_duration_layers() {
    check(
        |c| c.idle_timeout,
        "idle_timeout = \"1m\"",
        &["--idle-timeout", "5s"],
        (
            Duration::from_secs(30),
            Duration::from_secs(60),
            Duration::from_secs(5),
        ),
    );
}

#[test]
fn a_bool_layers_and_its_flag_takes_a_value() {
    check(
        |c| c.history,
        "history = false",
        &["--history", "true"],
        (true, false, true),
    );
    check(
        |c| c.offline_whispers,
        "offline_whispers = true",
        &["--offline-whispers", "false"],
        (true, true, false),
    );
    // As before the flags came from `Config`: a bool flag takes a value.
    assert!(command().try_get_matches_from(["--history"]).is_err());
}

#[test]
fn nested_fields_layer() {
    check(
        |c| c.limits.messages_per_sec,
        "[limits]\nmessages_per_sec = 5",
        &["--messages-per-sec", "7.5"],
        (20.0, 5.0, 7.5),
    );
    check(
        |c| c.password_hash.memory_kib,
        "[password_hash]\nmemory_kib = 65536",
        &["--hash-memory-kib", "1024"],
        (19 * 1024, 65536, 1024),
    );
    check(
        |c| c.rooms.max_members,
        "[rooms]\nmax_members = 5",
        &["--max-room-members", "6"],
        (10_000, 5, 6),
    );
}

#[test]
fn a_flag_in_one_table_keeps_the_files_values_in_that_table() {
    let config = load(
        "[limits]\nmessages_per_sec = 5\nmessages_burst = 9\nabuse_strikes = 3",
        &["--messages-burst", "11"],
    );
    assert_eq!(config.limits.messages_per_sec, 5.0);
    assert_eq!(config.limits.messages_burst, 11.0);
    assert_eq!(config.limits.abuse_strikes, 3);
}

#[test]
fn repeated_admins_replace_the_files_list() {
    check(
        |c| c.admins.clone(),
        "admins = [\"root\"]",
        &["--admin", "ann", "--admin", "bob"],
        (
            vec![],
            vec!["root".to_owned()],
            vec!["ann".to_owned(), "bob".to_owned()],
        ),
    );
}

#[test]
fn the_status_interval_turns_off_with_0s_in_the_file_and_on_the_command_line() {
    check(
        |c| c.status_interval,
        "status_interval = \"0s\"",
        &["--status-interval", "0s"],
        (Some(Duration::from_secs(1)), None, None),
    );
    let config = load("status_interval = \"0s\"", &["--status-interval", "3s"]);
    assert_eq!(config.status_interval, Some(Duration::from_secs(3)));
}

#[test]
fn parking_turns_off_with_0s_in_the_file_and_on_the_command_line() {
    check(
        |c| c.park_idle,
        "park_idle = \"0s\"",
        &["--park-idle", "0s"],
        (Some(Duration::from_secs(2)), None, None),
    );
    let config = load("park_idle = \"0s\"", &["--park-idle", "500ms"]);
    assert_eq!(config.park_idle, Some(Duration::from_millis(500)));
}

#[test]
fn session_tokens_turn_off_with_0s_in_the_file_and_on_the_command_line() {
    let thirty_days = Some(Duration::from_secs(30 * 24 * 60 * 60));
    check(
        |c| c.session_token_ttl,
        "session_token_ttl = \"0s\"",
        &["--session-token-ttl", "0s"],
        (thirty_days, None, None),
    );
    check(
        |c| c.session_token_ttl,
        "session_token_ttl = \"12h\"",
        &["--session-token-ttl", "1s"],
        (
            thirty_days,
            Some(Duration::from_secs(12 * 60 * 60)),
            Some(Duration::from_secs(1)),
        ),
    );
    let off = Config {
        session_token_ttl: None,
        ..Config::default()
    };
    let text = toml::to_string(&off).unwrap();
    assert_eq!(Config::from_toml(&text).unwrap(), off, "{text}");
}

#[test]
fn the_websocket_listener_turns_off_with_off() {
    let default = Some(SocketAddr::from(([127, 0, 0, 1], 5280)));
    let other = Some(SocketAddr::from(([0, 0, 0, 0], 8080)));
    check(
        |c| c.ws_listen,
        "ws_listen = \"off\"",
        &["--ws-listen", "0.0.0.0:8080"],
        (default, None, other),
    );
    check(
        |c| c.ws_listen,
        "ws_listen = \"0.0.0.0:8080\"",
        &["--ws-listen", "off"],
        (default, other, None),
    );
    let off = Config {
        ws_listen: None,
        ..Config::default()
    };
    let text = toml::to_string(&off).unwrap();
    assert_eq!(Config::from_toml(&text).unwrap(), off, "{text}");
}

#[test]
fn the_new_websocket_and_proxy_settings_layer() {
    check(
        |c| c.ws_path.clone(),
        "ws_path = \"/chat\"",
        &["--ws-path", "/sori"],
        ("/ws".to_owned(), "/chat".to_owned(), "/sori".to_owned()),
    );
    check(
        |c| c.ws.allowed_origins.clone(),
        "[ws]\nallowed_origins = [\"https://a.example\"]",
        &["--ws-allowed-origin", "*"],
        (
            vec![],
            vec!["https://a.example".to_owned()],
            vec!["*".to_owned()],
        ),
    );
    let net = |text: &str| text.parse::<IpNet>().unwrap();
    check(
        |c| c.trusted_proxies.clone(),
        "trusted_proxies = [\"10.0.0.0/8\"]",
        &[
            "--trusted-proxy",
            "192.0.2.7/32",
            "--trusted-proxy",
            "2001:db8::/32",
        ],
        (
            vec![],
            vec![net("10.0.0.0/8")],
            vec![net("192.0.2.7/32"), net("2001:db8::/32")],
        ),
    );
    check(
        |c| c.proxy_protocol,
        "proxy_protocol = true",
        &["--proxy-protocol", "false"],
        (false, true, false),
    );
}

#[test]
fn the_cluster_table_layers() {
    check(
        |c| c.cluster.redis.clone(),
        "[cluster]\nredis = \"redis://a:1/\"",
        &["--redis", "rediss://b:2/"],
        (
            None,
            Some("redis://a:1/".to_owned()),
            Some("rediss://b:2/".to_owned()),
        ),
    );
    check(
        |c| c.cluster.presence_ttl,
        "[cluster]\npresence_ttl = \"10s\"",
        &["--presence-ttl", "5s"],
        (
            Duration::from_secs(30),
            Duration::from_secs(10),
            Duration::from_secs(5),
        ),
    );
}

#[test]
fn a_cluster_node_needs_postgresql() {
    let mut config = Config::default();
    config.cluster.redis = Some("redis://127.0.0.1:6379/".to_owned());
    assert_eq!(config.validate(), Err(ConfigError::ClusterWithoutPostgres));
    config.database = "postgres://sori@db/sori".into();
    assert_eq!(config.validate(), Ok(()));
    config.cluster.presence_ttl = Duration::from_millis(10);
    assert_eq!(config.validate(), Err(ConfigError::ClusterTimings));
}

#[test]
fn file_only_settings_have_no_flag() {
    for flag in [
        "--abuse-strikes",
        "--login",
        "--ip-policy",
        "--tls",
        "--allow",
    ] {
        assert!(
            command().try_get_matches_from([flag, "1"]).is_err(),
            "{flag} should not exist"
        );
    }
}

/// Each flag's help states its default as `[default: X]`; where X is a
/// value, giving it as the flag must change nothing.
#[test]
fn every_flag_documents_its_real_default() {
    // Defaults that are prose, not a value the flag takes.
    let prose = ["none", "off", "half the cores, at least 1"];
    let command = command();
    for arg in command.get_arguments() {
        let long = arg.get_long().expect("every setting has a long flag");
        let help = arg.get_help().expect("every flag has help").to_string();
        let Some((_, rest)) = help.split_once("[default: ") else {
            panic!("--{long} does not state its default: {help:?}");
        };
        let default = rest.split_once(']').expect("a closing bracket").0;
        if prose.contains(&default) {
            continue;
        }
        let flag = format!("--{long}");
        let config = load("", &[&flag, default]);
        assert_eq!(
            config,
            Config::default(),
            "--{long} {default} is not the default"
        );
    }
}

#[test]
fn validate_accepts_the_defaults() {
    assert_eq!(Config::default().validate(), Ok(()));
}

#[test]
fn validate_names_what_is_wrong() {
    let check = |file: &str, expected: &str| {
        let err = Config::from_toml(file).unwrap().validate().unwrap_err();
        assert!(err.to_string().contains(expected), "{file}: {err}");
    };
    check("ws_path = \"ws\"", "ws_path \"ws\" must start with '/'");
    check("ws_listen = \"127.0.0.1:5252\"", "same address");
    check(
        "listen = \"0.0.0.0:6000\"\nws_listen = \"127.0.0.1:6000\"",
        "same address",
    );
    check(
        "[ws]\nallowed_origins = [\"https://a.example/\"]",
        "\"https://a.example/\"",
    );
    check("[ws]\nallowed_origins = [\"a.example\"]", "\"a.example\"");
    check("proxy_protocol = true", "trusted_proxies is empty");
}

#[test]
fn validate_allows_what_is_not_a_conflict() {
    for file in [
        "listen = \"127.0.0.1:0\"\nws_listen = \"127.0.0.1:0\"",
        "ws_listen = \"127.0.0.2:5252\"",
        "ws_listen = \"off\"\nlisten = \"127.0.0.1:5280\"",
        "[ws]\nallowed_origins = [\"*\", \"http://localhost:8080\", \"https://chat.example.com\"]",
        "proxy_protocol = true\ntrusted_proxies = [\"10.0.0.0/8\"]",
    ] {
        assert_eq!(
            Config::from_toml(file).unwrap().validate(),
            Ok(()),
            "{file}"
        );
    }
}
