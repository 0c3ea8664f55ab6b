//! Hand-built malicious tokens: each must fail with its own code, in the documented order.
// Test code: helpers outside #[test] fns may unwrap (clippy.toml only covers #[test] fns).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use keyhold_token::{
    Claims, DEFAULT_LEEWAY, ExpiryPreset, Jwks, KeyFacts, KeyLookup, KeyStatus, MAX_TOKEN_LEN,
    Scope, ScopeSet, SigningKey, TokenError, VerifyingKey, check_state, mint, verify,
};
use ring::signature::Ed25519KeyPair;
use serde_json::{Value, json};

const ISS: &str = "https://keyhold.test";
const NOW: i64 = 1_700_000_000;

struct Fixture {
    key: SigningKey,
    jwks: Jwks,
}

fn fixture() -> Fixture {
    let key = SigningKey::generate().unwrap();
    let jwks = Jwks::new([key.verifying_key().clone()]);
    Fixture { key, jwks }
}

fn claims_json() -> Value {
    json!({
        "iss": ISS, "sub": "user_1", "workspace": "ws_a",
        "scopes": ["keys:read", "read:queries"],
        "iat": NOW, "exp": NOW + 3600, "jti": "key_00112233445566778899aabbccddeeff"
    })
}

fn header_json(kid: &str) -> Value {
    json!({"typ": "at+jwt", "alg": "EdDSA", "kid": kid})
}

fn b64json(v: &Value) -> String {
    B64.encode(serde_json::to_vec(v).unwrap())
}

/// Signs arbitrary header/payload JSON with `key` (Ed25519), as an attacker holding that key
/// (or we, for claim-shape tests) would.
fn sign_raw(key: &SigningKey, header: &Value, payload: &Value) -> String {
    let input = format!("{}.{}", b64json(header), b64json(payload));
    let pair = Ed25519KeyPair::from_pkcs8(key.to_pkcs8_der().expose()).unwrap();
    let sig = pair.sign(input.as_bytes());
    format!("{input}.{}", B64.encode(sig.as_ref()))
}

fn code(r: Result<impl std::fmt::Debug, TokenError>) -> &'static str {
    r.unwrap_err().code()
}

/// Every refusal `verify` can give: problems with the presented token (the facade's tests
/// pin the status each code is answered with).
const STATELESS_REFUSALS: &[&str] = &[
    "token_malformed",
    "token_crit_unsupported",
    "token_wrong_type",
    "token_alg_not_allowed",
    "token_unknown_kid",
    "token_bad_signature",
    "token_invalid_claims",
    "token_wrong_issuer",
    "token_expired",
    "token_not_yet_valid",
    "token_issued_in_future",
];

fn check(f: &Fixture, token: &str) -> Result<keyhold_token::VerifiedToken, TokenError> {
    let r = verify(token, &f.jwks, ISS, NOW, DEFAULT_LEEWAY);
    if let Err(e) = &r {
        // No message ever echoes the token or its signature.
        let msg = format!("{e} {e:?}");
        for part in token.split('.').filter(|p| p.len() > 8) {
            assert!(!msg.contains(part), "{msg}");
        }
        assert!(STATELESS_REFUSALS.contains(&e.code()), "{e:?}");
    }
    r
}

fn minted(f: &Fixture, preset: ExpiryPreset) -> (Claims, String) {
    let scopes = ScopeSet::from([Scope::KeysRead, Scope::ReadQueries]);
    let claims = Claims::new(ISS, "user_1", "ws_a", scopes, NOW, preset, "key_1").unwrap();
    let token = mint(&f.key, &claims).unwrap();
    (claims, token)
}

#[test]
fn every_preset_mints_exp_minus_iat_equal_to_the_preset() {
    let f = fixture();
    for &preset in ExpiryPreset::all() {
        let (claims, token) = minted(&f, preset);
        let v = check(&f, &token).unwrap();
        assert_eq!(v.claims(), &claims);
        assert_eq!(v.kid(), f.key.kid());
        let secs = i64::try_from(preset.seconds()).unwrap();
        assert_eq!(v.claims().exp() - v.claims().iat(), secs, "{preset}");
        // Valid right up to the end of its life (plus leeway), not after.
        let exp = v.claims().exp();
        assert!(verify(&token, &f.jwks, ISS, exp + 30, 30).is_ok());
        assert_eq!(
            code(verify(&token, &f.jwks, ISS, exp + 31, 30)),
            "token_expired"
        );
    }
    for bad in ["2h", "90d", "forever", "0m", "1w"] {
        assert_eq!(code(bad.parse::<ExpiryPreset>()), "invalid_expiry");
    }
}

#[test]
fn minted_header_and_payload_shape() {
    let f = fixture();
    let (_, token) = minted(&f, ExpiryPreset::OneHour);
    let mut parts = token.split('.');
    let header: Value =
        serde_json::from_slice(&B64.decode(parts.next().unwrap()).unwrap()).unwrap();
    assert_eq!(
        header,
        json!({"typ":"at+jwt","alg":"EdDSA","kid":f.key.kid()})
    );
    let payload: Value =
        serde_json::from_slice(&B64.decode(parts.next().unwrap()).unwrap()).unwrap();
    assert_eq!(payload["scopes"], json!(["keys:read", "read:queries"]));
    assert!(payload["exp"].is_i64());
    assert!(payload.get("nbf").is_none());
    // Deterministic Ed25519: the same claims give the same token, and its signature is ring's
    // signature over `header.payload`.
    assert_eq!(
        mint(&f.key, &minted(&f, ExpiryPreset::OneHour).0).unwrap(),
        token
    );
    let (input, sig) = token.rsplit_once('.').unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(f.key.to_pkcs8_der().expose()).unwrap();
    assert_eq!(B64.encode(pair.sign(input.as_bytes()).as_ref()), sig);
}

#[test]
fn alg_none_is_refused() {
    let f = fixture();
    let header = json!({"typ":"at+jwt","alg":"none","kid":f.key.kid()});
    let body = b64json(&claims_json());
    for token in [
        format!("{}.{}.", b64json(&header), body),
        format!(
            "{}.{}.",
            b64json(&json!({"typ":"at+jwt","alg":"none"})),
            body
        ),
        format!(
            "{}.{}.",
            b64json(&json!({"typ":"at+jwt","alg":"None","kid":f.key.kid()})),
            body
        ),
        format!(
            "{}.{}.",
            b64json(&json!({"typ":"at+jwt","kid":f.key.kid()})),
            body
        ),
        format!(
            "{}.{}.",
            b64json(&json!({"typ":"at+jwt","alg":"eddsa","kid":f.key.kid()})),
            body
        ),
        format!(
            "{}.{}.",
            b64json(&json!({"typ":"at+jwt","alg":["EdDSA"],"kid":f.key.kid()})),
            body
        ),
    ] {
        assert_eq!(code(check(&f, &token)), "token_alg_not_allowed", "{token}");
    }
}

#[test]
fn hs256_with_the_public_key_as_hmac_secret_is_refused() {
    let f = fixture();
    let header = json!({"typ":"at+jwt","alg":"HS256","kid":f.key.kid()});
    let input = format!("{}.{}", b64json(&header), b64json(&claims_json()));
    let public = f.key.verifying_key().as_bytes();
    let public_b64 = B64.encode(public);
    let jwks_json = serde_json::to_vec(&f.jwks).unwrap();
    for secret in [&public[..], public_b64.as_bytes(), &jwks_json] {
        let mac = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret),
            input.as_bytes(),
        );
        let token = format!("{input}.{}", B64.encode(mac.as_ref()));
        assert_eq!(code(check(&f, &token)), "token_alg_not_allowed");
    }
}

#[test]
fn crit_is_refused_even_when_validly_signed() {
    let f = fixture();
    for crit in [json!(["exp"]), json!([]), json!("b64"), json!(null)] {
        let mut header = header_json(f.key.kid());
        header["crit"] = crit;
        let token = sign_raw(&f.key, &header, &claims_json());
        assert_eq!(code(check(&f, &token)), "token_crit_unsupported");
    }
}

#[test]
fn wrong_typ_is_refused() {
    let f = fixture();
    for typ in [
        json!("JWT"),
        json!("jwt"),
        json!("at+JWT+x"),
        json!(""),
        json!(1),
        json!(null),
    ] {
        let mut header = header_json(f.key.kid());
        header["typ"] = typ.clone();
        let token = sign_raw(&f.key, &header, &claims_json());
        assert_eq!(code(check(&f, &token)), "token_wrong_type", "{typ}");
    }
    let mut header = header_json(f.key.kid());
    header.as_object_mut().unwrap().remove("typ");
    assert_eq!(
        code(check(&f, &sign_raw(&f.key, &header, &claims_json()))),
        "token_wrong_type"
    );
    // The RFC 9068 equivalents are accepted.
    for typ in ["AT+JWT", "application/at+jwt"] {
        let mut header = header_json(f.key.kid());
        header["typ"] = json!(typ);
        assert!(
            check(&f, &sign_raw(&f.key, &header, &claims_json())).is_ok(),
            "{typ}"
        );
    }
}

/// A lookup that records every kid it is asked about.
struct Recording<'a>(&'a Jwks, std::cell::RefCell<Vec<String>>);

impl KeyLookup for Recording<'_> {
    fn verifying_key(&self, kid: &str) -> Option<&VerifyingKey> {
        self.1.borrow_mut().push(kid.to_owned());
        self.0.verifying_key(kid)
    }
}

#[test]
fn unknown_and_injected_kids_are_unknown() {
    let f = fixture();
    let other = SigningKey::generate().unwrap();
    let mut near = f.key.kid().to_owned();
    let last = if near.ends_with('A') { "B" } else { "A" };
    near.replace_range(near.len() - 1.., last);
    let hostile = [
        json!("../../etc/passwd"),
        json!("' OR '1'='1' --"),
        json!("\"; DROP TABLE keys; --"),
        json!(format!("{}\u{0}", f.key.kid())),
        json!(format!("{} ", f.key.kid())),
        json!(""),
        json!(42),
        json!(null),
        json!([f.key.kid()]),
        json!({"kid": f.key.kid()}),
        json!("x".repeat(5000)),
    ];
    let rec = Recording(&f.jwks, Default::default());
    for kid in hostile {
        let mut header = header_json("");
        header["kid"] = kid.clone();
        let token = sign_raw(&f.key, &header, &claims_json());
        let r = verify(&token, &rec, ISS, NOW, DEFAULT_LEEWAY);
        assert_eq!(code(r), "token_unknown_kid", "{kid}");
    }
    assert!(
        rec.1.borrow().is_empty(),
        "hostile kids must never reach the lookup"
    );
    let mut header = header_json("");
    header.as_object_mut().unwrap().remove("kid");
    assert_eq!(
        code(check(&f, &sign_raw(&f.key, &header, &claims_json()))),
        "token_unknown_kid"
    );

    // Well-shaped but unknown: another store's key with its own kid, and a look-alike kid.
    for (signer, kid) in [(&other, other.kid().to_owned()), (&f.key, near)] {
        let token = sign_raw(signer, &header_json(&kid), &claims_json());
        assert_eq!(
            code(verify(&token, &rec, ISS, NOW, DEFAULT_LEEWAY)),
            "token_unknown_kid"
        );
    }
    assert_eq!(rec.1.borrow().len(), 2);

    // A lookup that hands back a key under the wrong kid is not trusted.
    struct Liar(VerifyingKey);
    impl KeyLookup for Liar {
        fn verifying_key(&self, _kid: &str) -> Option<&VerifyingKey> {
            Some(&self.0)
        }
    }
    let token = sign_raw(&other, &header_json(other.kid()), &claims_json());
    let liar = Liar(f.key.verifying_key().clone());
    assert_eq!(
        code(verify(&token, &liar, ISS, NOW, DEFAULT_LEEWAY)),
        "token_unknown_kid"
    );
}

#[test]
fn another_stores_key_claiming_our_kid_is_a_bad_signature() {
    let f = fixture();
    let other = SigningKey::generate().unwrap();
    let token = sign_raw(&other, &header_json(f.key.kid()), &claims_json());
    assert_eq!(code(check(&f, &token)), "token_bad_signature");
}

#[test]
fn tampered_payload_and_signature_are_bad_signatures() {
    let f = fixture();
    let (_, token) = minted(&f, ExpiryPreset::OneHour);
    let parts: Vec<&str> = token.split('.').collect();

    // Payload: escalate to admin and extend exp, keep header and signature.
    let mut payload: Value = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
    payload["scopes"] = json!(["admin"]);
    payload["exp"] = json!(NOW + 10 * 365 * 86400);
    let forged = format!("{}.{}.{}", parts[0], b64json(&payload), parts[2]);
    assert_eq!(code(check(&f, &forged)), "token_bad_signature");

    // Header: a different (still valid-looking) header with the old signature.
    let forged = format!(
        "{}.{}.{}",
        b64json(&json!({"alg":"EdDSA","typ":"at+jwt","kid":f.key.kid()})),
        parts[1],
        parts[2]
    );
    assert_eq!(code(check(&f, &forged)), "token_bad_signature");

    // Signature: flip bits in several positions; truncate; extend; empty.
    let sig = B64.decode(parts[2]).unwrap();
    for i in [0, 17, 31, 32, 63] {
        let mut s = sig.clone();
        s[i] ^= 0x01;
        let forged = format!("{}.{}.{}", parts[0], parts[1], B64.encode(&s));
        assert_eq!(code(check(&f, &forged)), "token_bad_signature", "byte {i}");
    }
    for s in [&sig[..63], &[sig.as_slice(), &[0]].concat()[..], &[]] {
        let forged = format!("{}.{}.{}", parts[0], parts[1], B64.encode(s));
        assert_eq!(code(check(&f, &forged)), "token_bad_signature");
    }
}

#[test]
fn mistyped_and_missing_claims() {
    let f = fixture();
    let cases: Vec<(&str, Value)> = vec![
        ("exp", json!(format!("{}", NOW + 3600))),
        ("exp", json!((NOW + 3600) as f64)),
        ("exp", json!(null)),
        ("exp", json!(u64::MAX)),
        ("iat", json!("1700000000")),
        ("iat", json!(true)),
        ("nbf", json!("1700000000")),
        ("nbf", json!(1.5)),
        ("scopes", json!("keys:read")),
        ("scopes", json!(["keys:read", "keys:nuke"])),
        ("scopes", json!(["keys:read", 7])),
        ("scopes", json!({"keys:read": true})),
        ("iss", json!(["https://keyhold.test"])),
        ("sub", json!("")),
        ("sub", json!("u".repeat(300))),
        ("workspace", json!(12)),
        ("jti", json!(null)),
    ];
    for (claim, value) in cases {
        let mut payload = claims_json();
        payload[claim] = value.clone();
        let token = sign_raw(&f.key, &header_json(f.key.kid()), &payload);
        let err = check(&f, &token).unwrap_err();
        assert_eq!(err.code(), "token_invalid_claims", "{claim}={value}");
        assert!(
            matches!(err, TokenError::InvalidClaims { claim: c } if c == claim),
            "{claim}: {err}"
        );
    }
    for missing in ["iss", "sub", "workspace", "scopes", "iat", "exp", "jti"] {
        let mut payload = claims_json();
        payload.as_object_mut().unwrap().remove(missing);
        let token = sign_raw(&f.key, &header_json(f.key.kid()), &payload);
        assert_eq!(code(check(&f, &token)), "token_invalid_claims", "{missing}");
    }
    // Unknown extra claims are ignored (documented); nbf as an integer is accepted.
    let mut payload = claims_json();
    payload["extra"] = json!({"anything": [1, 2]});
    payload["nbf"] = json!(NOW);
    let v = check(&f, &sign_raw(&f.key, &header_json(f.key.kid()), &payload)).unwrap();
    assert_eq!(v.claims().nbf(), Some(NOW));
}

#[test]
fn wrong_issuer() {
    let f = fixture();
    let (_, token) = minted(&f, ExpiryPreset::OneHour);
    for iss in [
        "https://evil.test",
        "https://keyhold.test/",
        "HTTPS://KEYHOLD.TEST",
        "",
    ] {
        assert_eq!(
            code(verify(&token, &f.jwks, iss, NOW, DEFAULT_LEEWAY)),
            "token_wrong_issuer"
        );
    }
}

#[test]
fn time_checks_at_the_leeway_edges() {
    let f = fixture();
    let l = DEFAULT_LEEWAY as i64;
    let run = |payload: &Value, now: i64| {
        let token = sign_raw(&f.key, &header_json(f.key.kid()), payload);
        verify(&token, &f.jwks, ISS, now, DEFAULT_LEEWAY).map(|_| ())
    };
    let base = claims_json();
    let exp = NOW + 3600;
    assert!(run(&base, exp + l).is_ok());
    assert_eq!(code(run(&base, exp + l + 1)), "token_expired");

    let mut nbf = base.clone();
    nbf["nbf"] = json!(NOW + 100);
    assert!(run(&nbf, NOW + 100 - l).is_ok());
    assert_eq!(code(run(&nbf, NOW + 100 - l - 1)), "token_not_yet_valid");

    let mut iat = base.clone();
    iat["iat"] = json!(NOW + 100);
    assert!(run(&iat, NOW + 100 - l).is_ok());
    assert_eq!(code(run(&iat, NOW + 100 - l - 1)), "token_issued_in_future");

    // Zero leeway: the edges move to exp / nbf / iat themselves.
    let token = sign_raw(&f.key, &header_json(f.key.kid()), &base);
    assert!(verify(&token, &f.jwks, ISS, exp, 0).is_ok());
    assert_eq!(
        code(verify(&token, &f.jwks, ISS, exp + 1, 0)),
        "token_expired"
    );
    assert_eq!(
        code(verify(&token, &f.jwks, ISS, NOW - 1, 0)),
        "token_issued_in_future"
    );

    // Extremes never overflow.
    let mut ext = base.clone();
    ext["exp"] = json!(i64::MAX);
    ext["iat"] = json!(i64::MIN);
    ext["nbf"] = json!(i64::MIN);
    assert!(run(&ext, i64::MAX).is_ok());
    let token = sign_raw(&f.key, &header_json(f.key.kid()), &ext);
    assert!(verify(&token, &f.jwks, ISS, i64::MIN, u64::MAX).is_ok());
    ext["exp"] = json!(i64::MIN);
    assert_eq!(code(run(&ext, 0)), "token_expired");
}

#[test]
fn malformed_tokens() {
    let f = fixture();
    let (_, token) = minted(&f, ExpiryPreset::OneHour);
    let p: Vec<&str> = token.split('.').collect();
    let too_long = format!("{}.{}.{}", p[0], "A".repeat(MAX_TOKEN_LEN), p[2]);
    let cases = vec![
        String::new(),
        ".".into(),
        "..".into(),
        "...".into(),
        format!("{}.{}", p[0], p[1]),
        format!("{token}.{}", p[2]),
        format!("{}=.{}.{}", p[0], p[1], p[2]),
        format!("{}.{}.{}=", p[0], p[1], p[2]),
        format!(" {token}"),
        format!("{token}\n"),
        format!("{}.{}+.{}", p[0], p[1], p[2]),
        format!("{}.{}.{}", B64.encode("not json"), p[1], p[2]),
        format!("{}.{}.{}", B64.encode("[1,2]"), p[1], p[2]),
        format!("{}.{}.{}", p[0], B64.encode("\"str\""), p[2]),
        format!("{}.{}.{}", p[0], B64.encode([0xff, 0xfe, 0x00]), p[2]),
        format!(
            "{}.{}.{}",
            B64.encode(r#"{"typ":"at+jwt","alg":"none","alg":"EdDSA"}"#),
            p[1],
            p[2]
        ),
        format!("{}.{}.{}", p[0], B64.encode(r#"{"exp":1,"exp":2}"#), p[2]),
        // Non-canonical base64url: trailing bits set (1 char beyond a full group).
        format!("{}.{}.{}B", p[0], p[1], &p[2][..p[2].len() - 1]),
        too_long,
    ];
    for t in cases {
        assert_eq!(code(check(&f, &t)), "token_malformed", "{t:.80}");
    }
}

#[test]
fn first_failure_in_the_documented_order_wins() {
    let f = fixture();
    let other = SigningKey::generate().unwrap();
    // crit beats typ and alg.
    let h = json!({"typ":"JWT","alg":"none","crit":["x"]});
    assert_eq!(
        code(check(
            &f,
            &format!("{}.{}.", b64json(&h), b64json(&claims_json()))
        )),
        "token_crit_unsupported"
    );
    // typ beats alg.
    let h = json!({"typ":"JWT","alg":"none"});
    assert_eq!(
        code(check(
            &f,
            &format!("{}.{}.", b64json(&h), b64json(&claims_json()))
        )),
        "token_wrong_type"
    );
    // alg beats kid.
    let h = json!({"typ":"at+jwt","alg":"HS256","kid":"../x"});
    assert_eq!(
        code(check(
            &f,
            &format!("{}.{}.", b64json(&h), b64json(&claims_json()))
        )),
        "token_alg_not_allowed"
    );
    // Bad signature beats bad claims, wrong issuer and expiry.
    let mut p = claims_json();
    p["exp"] = json!("soon");
    p["iss"] = json!("evil");
    assert_eq!(
        code(check(&f, &sign_raw(&other, &header_json(f.key.kid()), &p))),
        "token_bad_signature"
    );
    // Bad claims beat wrong issuer.
    assert_eq!(
        code(check(&f, &sign_raw(&f.key, &header_json(f.key.kid()), &p))),
        "token_invalid_claims"
    );
    // Wrong issuer beats expired.
    let mut p = claims_json();
    p["iss"] = json!("evil");
    p["exp"] = json!(NOW - 1000);
    assert_eq!(
        code(check(&f, &sign_raw(&f.key, &header_json(f.key.kid()), &p))),
        "token_wrong_issuer"
    );
    // Expired beats not-yet-valid beats issued-in-future.
    let mut p = claims_json();
    p["exp"] = json!(NOW - 1000);
    p["nbf"] = json!(NOW + 1000);
    p["iat"] = json!(NOW + 1000);
    assert_eq!(
        code(check(&f, &sign_raw(&f.key, &header_json(f.key.kid()), &p))),
        "token_expired"
    );
    p["exp"] = json!(NOW + 5000);
    assert_eq!(
        code(check(&f, &sign_raw(&f.key, &header_json(f.key.kid()), &p))),
        "token_not_yet_valid"
    );
}

#[test]
fn stateful_rules_in_order() {
    let f = fixture();
    let (_, token) = minted(&f, ExpiryPreset::EightHours);
    let claims = check(&f, &token).unwrap().into_claims();
    let ok = KeyFacts {
        workspace_known: true,
        key_status: KeyStatus::Active,
        workspace_revoked_all_at: None,
    };
    let state = |facts: &KeyFacts, ws: &str, scope: Option<Scope>| {
        check_state(&claims, facts, ws, scope).map_err(|e| e.code())
    };
    assert_eq!(state(&ok, "ws_a", Some(Scope::KeysRead)), Ok(()));
    assert_eq!(state(&ok, "ws_a", None), Ok(()));
    // Workspace A token used for workspace B.
    assert_eq!(state(&ok, "ws_b", None), Err("workspace_mismatch"));
    let unknown_ws = KeyFacts {
        workspace_known: false,
        ..ok
    };
    assert_eq!(state(&unknown_ws, "ws_a", None), Err("workspace_unknown"));
    let unknown_key = KeyFacts {
        key_status: KeyStatus::Unknown,
        ..ok
    };
    assert_eq!(state(&unknown_key, "ws_a", None), Err("key_unknown"));
    let revoked = KeyFacts {
        key_status: KeyStatus::Revoked,
        ..ok
    };
    assert_eq!(state(&revoked, "ws_a", None), Err("key_revoked"));
    // Revoke-all: issued at or before the instant is rejected; one second after is fine.
    for (at, expected) in [
        (NOW + 1, Err("key_revoked_all")),
        (NOW, Err("key_revoked_all")),
        (NOW - 1, Ok(())),
    ] {
        let f = KeyFacts {
            workspace_revoked_all_at: Some(at),
            ..ok
        };
        assert_eq!(state(&f, "ws_a", None), expected, "revoked_all_at={at}");
    }
    assert_eq!(
        state(&ok, "ws_a", Some(Scope::KeysWrite)),
        Err("insufficient_scope")
    );
    assert_eq!(
        state(&ok, "ws_a", Some(Scope::Admin)),
        Err("insufficient_scope")
    );
}

#[test]
fn stateful_rules_report_the_first_failure() {
    let f = fixture();
    let (_, token) = minted(&f, ExpiryPreset::EightHours);
    let claims = check(&f, &token).unwrap().into_claims();
    let state = |facts: &KeyFacts, ws: &str, scope: Option<Scope>| {
        check_state(&claims, facts, ws, scope).map_err(|e| e.code())
    };
    // Order: every failing fact at once reports the first rule.
    let all_bad = KeyFacts {
        workspace_known: false,
        key_status: KeyStatus::Revoked,
        workspace_revoked_all_at: Some(NOW),
    };
    assert_eq!(
        state(&all_bad, "ws_b", Some(Scope::Admin)),
        Err("workspace_mismatch")
    );
    assert_eq!(
        state(&all_bad, "ws_a", Some(Scope::Admin)),
        Err("workspace_unknown")
    );
    let bad = KeyFacts {
        workspace_known: true,
        ..all_bad
    };
    assert_eq!(state(&bad, "ws_a", Some(Scope::Admin)), Err("key_revoked"));
    let bad = KeyFacts {
        key_status: KeyStatus::Active,
        ..bad
    };
    assert_eq!(
        state(&bad, "ws_a", Some(Scope::Admin)),
        Err("key_revoked_all")
    );

    // admin covers every required scope.
    let admin = Claims::new(
        ISS,
        "root",
        "ws_a",
        ScopeSet::from([Scope::Admin]),
        NOW,
        ExpiryPreset::OneHour,
        "key_2",
    )
    .unwrap();
    let ok = KeyFacts {
        workspace_known: true,
        key_status: KeyStatus::Active,
        workspace_revoked_all_at: None,
    };
    for s in Scope::all() {
        assert!(check_state(&admin, &ok, "ws_a", Some(*s)).is_ok());
    }
}

#[test]
fn no_escalation_when_a_token_mints_a_token() {
    let f = fixture();
    let (_, token) = minted(&f, ExpiryPreset::OneHour);
    let parent = check(&f, &token).unwrap().into_claims();
    let narrower = ScopeSet::from([Scope::KeysRead]);
    assert!(narrower.ensure_no_escalation(parent.scopes()).is_ok());
    for wider in [
        ScopeSet::from([Scope::KeysRead, Scope::KeysWrite]),
        ScopeSet::from([Scope::Admin]),
    ] {
        let e = wider.ensure_no_escalation(parent.scopes()).unwrap_err();
        assert_eq!(e.code(), "scope_escalation");
    }
}

#[test]
fn claims_new_refuses_out_of_range_input() {
    let s = ScopeSet::from([Scope::KeysRead]);
    let p = ExpiryPreset::OneHour;
    assert_eq!(
        code(Claims::new("", "u", "w", s.clone(), NOW, p, "j")),
        "claim_out_of_range"
    );
    assert_eq!(
        code(Claims::new(ISS, "u", "w", s.clone(), i64::MAX - 10, p, "j")),
        "claim_out_of_range"
    );
    assert_eq!(
        code(Claims::new(ISS, "u", &"w".repeat(257), s, NOW, p, "j")),
        "claim_out_of_range"
    );
}

#[test]
fn the_largest_mintable_token_fits_the_size_cap_and_verifies() {
    let f = fixture();
    let long = "x".repeat(keyhold_token::MAX_CLAIM_LEN);
    let all: ScopeSet = Scope::all().iter().copied().collect();
    let claims = Claims::new(ISS, &long, &long, all, NOW, ExpiryPreset::ThirtyDays, &long)
        .unwrap()
        .with_not_before(NOW);
    let token = mint(&f.key, &claims).unwrap();
    assert!(token.len() <= 2 * 1024 + 256, "{}", token.len());
    assert!(token.len() < MAX_TOKEN_LEN);
    assert_eq!(check(&f, &token).unwrap().into_claims(), claims);
}
