use super::*;

#[test]
fn a_key_that_does_not_match_the_certificate_names_both_files() {
    let one = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("one-cert.pem");
    let key = dir.path().join("other-key.pem");
    std::fs::write(&cert, one.cert.pem()).unwrap();
    std::fs::write(&key, other.signing_key.serialize_pem()).unwrap();

    let Err(err) = acceptor(&cert, &key) else {
        panic!("a mismatched certificate and key were accepted");
    };
    assert!(err.contains(&cert.display().to_string()), "{err}");
    assert!(err.contains(&key.display().to_string()), "{err}");
}

#[test]
fn a_matching_certificate_and_key_make_an_acceptor() {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();

    assert!(acceptor(&cert, &key).is_ok());
}
