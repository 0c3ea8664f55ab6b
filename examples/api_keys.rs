//! Embedding keyhold for API keys: mint a scoped key, verify it, revoke it, see it refused.
//!
//! Run: `cargo run -p keyhold-examples --example api_keys`
#![allow(clippy::print_stdout)]

use keyhold::{Caller, ExpiryPreset, KeySource, Keyhold, MasterKey, MintRequest, Scope};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tmp = tempfile::tempdir()?;
    let master = MasterKey::generate()?;
    let key = || KeySource::Text(keyhold::Zeroizing::new(master.to_base64url().to_string()));
    let (kh, _) = Keyhold::init(tmp.path().join("keyhold-data"), key())?;

    // The embedding program holds the master key: it acts as the operator.
    let operator = Caller::operator();
    let minted = kh.mint_key(
        &operator,
        &MintRequest {
            workspace: "default".into(),
            name: "mobile-app".into(),
            expires: ExpiryPreset::ThirtyDays,
            scopes: Some(
                [Scope::ReadQueries, Scope::ExecuteQueries]
                    .into_iter()
                    .collect(),
            ),
            sub: Some("mobile-app@yourteam.com".into()),
        },
    )?;
    // EXPOSE: the one time the token is handed out; keyhold keeps only its id and fingerprint.
    let token = minted.token.expose().to_owned();
    println!(
        "minted {} ({}), fingerprint {}, expires {}",
        minted.key.name, minted.key.id, minted.key.fingerprint, minted.key.expires_at
    );

    // A service verifying requests: signature, claims, revocation, scope.
    let who = kh.verify_token(&token, Some(Scope::ReadQueries))?;
    println!(
        "verified: sub={} workspace={} scopes={:?}",
        who.sub,
        who.workspace,
        who.scopes.iter().map(Scope::as_str).collect::<Vec<_>>()
    );
    match kh.verify_token(&token, Some(Scope::KeysWrite)) {
        Err(e) => println!(
            "asking for keys:write: refused with {} ({})",
            e.code(),
            e.http_status()
        ),
        Ok(_) => return Err("a read-only key must not pass a keys:write check".into()),
    }

    // Another process (here: another handle) revokes; the next verification fails.
    Keyhold::open(tmp.path().join("keyhold-data"), key())?.revoke_key(
        &operator,
        "default",
        "mobile-app",
    )?;
    match kh.verify_token(&token, None) {
        Err(e) => println!(
            "after revoke: refused with {} ({})",
            e.code(),
            e.http_status()
        ),
        Ok(_) => return Err("a revoked key must not verify".into()),
    }
    println!(
        "JWKS for offline verifiers: {}",
        serde_json::to_string(&kh.jwks()?)?
    );
    Ok(())
}
