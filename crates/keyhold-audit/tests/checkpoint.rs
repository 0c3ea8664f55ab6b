//! Signed checkpoints: round trip, every kind of tampering, key handling and redaction.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use keyhold_audit::{Anchor, AuditError, ChainHead, Checkpoint, CheckpointSigner, checkpoint_kid};

const STORE: &[u8] = &[0xab; 16];
const HEAD: ChainHead = ChainHead {
    seq: 42,
    hash: [0xa7; 32],
};

fn signed() -> (CheckpointSigner, Checkpoint) {
    let s = CheckpointSigner::generate().unwrap();
    let cp = s.sign(STORE, HEAD, 1_700_000_000_123).unwrap();
    (s, cp)
}

#[test]
fn sign_serialize_parse_verify() {
    let (s, cp) = signed();
    assert_eq!(cp.store_id, "ab".repeat(16));
    assert_eq!(cp.head, "a7".repeat(32));
    assert_eq!(cp.signature.len(), 128);
    assert_eq!(cp.kid, s.kid());
    assert_eq!(s.kid(), checkpoint_kid(&s.public_key()));
    let json = cp.to_json();
    assert!(json.ends_with('\n'));
    let parsed = Checkpoint::from_json(&json).unwrap();
    assert_eq!(parsed, cp);
    let anchor = parsed.verify_for_store(&s.public_key(), STORE).unwrap();
    assert_eq!(
        anchor,
        Anchor {
            seq: 42,
            head: [0xa7; 32]
        }
    );
}

#[test]
fn tampering_with_any_signed_field_fails() {
    let (s, cp) = signed();
    let pk = s.public_key();
    let bad = |f: &dyn Fn(&mut Checkpoint)| {
        let mut c = cp.clone();
        f(&mut c);
        assert_ne!(c, cp);
        c.verify(&pk).unwrap_err()
    };
    assert_eq!(bad(&|c| c.seq += 1), AuditError::CheckpointBadSignature);
    assert_eq!(bad(&|c| c.seq = 0), AuditError::CheckpointBadSignature);
    assert_eq!(bad(&|c| c.time_ms -= 1), AuditError::CheckpointBadSignature);
    assert_eq!(
        bad(&|c| c.head = format!("08{}", &c.head[2..])),
        AuditError::CheckpointBadSignature
    );
    assert_eq!(
        bad(&|c| c.store_id = "cd".repeat(16)),
        AuditError::CheckpointBadSignature
    );
    assert_eq!(
        bad(&|c| {
            let last = if c.signature.ends_with('0') { "1" } else { "0" };
            c.signature = format!("{}{last}", &c.signature[..127]);
        }),
        AuditError::CheckpointBadSignature
    );
    assert_eq!(
        bad(&|c| c.kid = "00".repeat(16)),
        AuditError::CheckpointWrongKey
    );
    // Malformed hex is refused before any signature check.
    assert!(matches!(
        bad(&|c| c.head = c.head.to_uppercase()),
        AuditError::CheckpointMalformed { what: "head" }
    ));
    assert!(matches!(
        bad(&|c| c.signature.truncate(126)),
        AuditError::CheckpointMalformed { what: "signature" }
    ));
    assert!(matches!(
        bad(&|c| c.store_id = String::new()),
        AuditError::CheckpointMalformed { what: "store_id" }
    ));
}

#[test]
fn another_key_is_refused() {
    let (_, cp) = signed();
    let other = CheckpointSigner::generate().unwrap();
    assert_eq!(
        cp.verify(&other.public_key()),
        Err(AuditError::CheckpointWrongKey)
    );
    assert!(matches!(
        cp.verify(&[0; 31]),
        Err(AuditError::InvalidKey { .. })
    ));
}

#[test]
fn a_forged_signature_under_the_right_kid_is_refused() {
    let (s, cp) = signed();
    let other = CheckpointSigner::generate().unwrap();
    let mut forged = other
        .sign(
            STORE,
            ChainHead {
                seq: 7,
                hash: [9; 32],
            },
            0,
        )
        .unwrap();
    forged.kid = cp.kid.clone();
    assert_eq!(
        forged.verify(&s.public_key()),
        Err(AuditError::CheckpointBadSignature)
    );
}

#[test]
fn the_store_must_match() {
    let (s, cp) = signed();
    assert_eq!(
        cp.verify_for_store(&s.public_key(), &[0xcd; 16]),
        Err(AuditError::CheckpointWrongStore)
    );
    assert!(s.sign(&[], HEAD, 0).is_err());
    assert!(s.sign(&[1; 65], HEAD, 0).is_err());
}

#[test]
fn json_is_strict() {
    let (_, cp) = signed();
    let json = cp.to_json();
    let extra = json.replacen('{', "{\"extra\":1,", 1);
    assert!(Checkpoint::from_json(&extra).is_err());
    let missing = json.replace("\"kid\"", "\"kidd\"");
    assert!(Checkpoint::from_json(&missing).is_err());
    assert!(Checkpoint::from_json("not json").is_err());
    let huge = format!("{json}{}", " ".repeat(5000));
    assert!(matches!(
        Checkpoint::from_json(&huge),
        Err(AuditError::CheckpointMalformed { what: "too long" })
    ));
}

#[test]
fn pkcs8_round_trip() {
    let (s, cp) = signed();
    let der = s.to_pkcs8();
    let s2 = CheckpointSigner::from_pkcs8(der.expose()).unwrap();
    assert_eq!(s2.public_key(), s.public_key());
    assert_eq!(s2.sign(STORE, HEAD, cp.time_ms).unwrap(), cp); // Ed25519 is deterministic
    assert!(CheckpointSigner::from_pkcs8(&der.expose()[..40]).is_err());
    assert!(matches!(
        CheckpointSigner::from_pkcs8(b"garbage"),
        Err(AuditError::InvalidKey { .. })
    ));
}

#[test]
fn signer_debug_is_redacted() {
    let (s, _) = signed();
    let der = s.to_pkcs8();
    // The 32-byte seed sits at offset 16 of ring's PKCS#8 v2 document.
    let seed = &der.expose()[16..48];
    let seed_hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
    let d = format!("{s:?}");
    assert_eq!(d, format!("CheckpointSigner {{ kid: {:?}, .. }}", s.kid()));
    let pretty = format!("{s:#?}");
    assert!(!pretty.contains(&seed_hex[..8]), "{pretty}");
    assert!(!pretty.contains('['), "{pretty}"); // no byte arrays
    // The exported key is itself a redacted secret.
    assert_eq!(format!("{der:?}"), "SecretBytes { .. }");
}
