use super::*;

#[test]
fn token_files_are_private_and_per_account() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state");
    let file = TokenFile::new(&state, "127.0.0.1:5252", "Amy");
    assert_eq!(
        file.path().file_name().and_then(|name| name.to_str()),
        Some("token-127.0.0.1_5252-amy")
    );
    assert_eq!(file.load(), None);
    file.save("secret-token").expect("save");
    assert_eq!(file.load().as_deref(), Some("secret-token"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |path: &Path| fs::metadata(path).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode(file.path()), 0o600);
        assert_eq!(mode(&state), 0o700);
    }
    file.save("newer").expect("save again");
    assert_eq!(file.load().as_deref(), Some("newer"));
    file.forget();
    assert_eq!(file.load(), None);
}

#[test]
fn secrets_do_not_print() {
    let secret = Secret::Password("hunter2".into());
    assert!(!format!("{secret:?}").contains("hunter2"));
}
