use super::PasswordHasher;

/// A hasher cheap enough for tests; production uses the default cost.
fn cheap() -> PasswordHasher {
    PasswordHasher::new(1024, 1, 1).expect("valid params")
}

#[test]
fn hash_then_verify() {
    let hasher = cheap();
    let phc = hasher.hash("correct horse").unwrap();
    assert!(hasher.verify("correct horse", &phc));
    assert!(!hasher.verify("correct horsE", &phc));
    assert!(!hasher.verify("", &phc));
}

#[test]
fn hash_is_an_argon2id_phc_string_without_the_password() {
    let password = "correct horse";
    let phc = cheap().hash(password).unwrap();
    assert!(phc.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{phc}");
    assert!(!phc.contains(password), "{phc}");
}

#[test]
fn salts_are_random() {
    let hasher = cheap();
    assert_ne!(hasher.hash("same").unwrap(), hasher.hash("same").unwrap());
}

#[test]
fn verify_uses_the_cost_stored_in_the_hash() {
    let old = PasswordHasher::new(2048, 1, 1)
        .unwrap()
        .hash("pw123456")
        .unwrap();
    assert!(cheap().verify("pw123456", &old));
}

#[test]
fn garbage_hashes_do_not_verify() {
    let hasher = cheap();
    for phc in [
        "",
        "not a hash",
        "$argon2id$",
        "$argon2id$v=19$m=1024,t=1,p=1$bad salt$bad hash",
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
    ] {
        assert!(!hasher.verify("password", phc), "{phc:?}");
    }
}

#[test]
fn dummy_verify_runs() {
    let hasher = cheap();
    hasher.dummy_verify("anything");
    hasher.dummy_verify("anything else");
    assert!(
        hasher
            .dummy_hash
            .get()
            .is_some_and(|phc| phc.starts_with("$argon2id$"))
    );
}

#[test]
fn params() {
    let err = PasswordHasher::new(0, 1, 1).unwrap_err().to_string();
    assert!(err.starts_with("invalid argon2 parameters: "), "{err}");
    assert!(PasswordHasher::new(1024, 0, 1).is_err());
    assert!(PasswordHasher::new(1024, 1, 0).is_err());
    let default = PasswordHasher::default();
    let p = &default.params;
    assert_eq!((p.m_cost(), p.t_cost(), p.p_cost()), (19456, 2, 1));
}
