//! Embedding keyhold: create a store, keep a credential in it, read it back, rotate keys.
//!
//! Run: `cargo run -p keyhold-examples --example embed [DATA_DIR]` (default: a temporary dir).
#![allow(clippy::print_stdout)]

use keyhold::{KeySource, Keyhold, MasterKey, SecretBytes};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tmp = tempfile::tempdir()?;
    let data_dir = std::env::args_os()
        .nth(1)
        .map_or_else(|| tmp.path().join("keyhold-data"), Into::into);

    // A master key from the environment in production; here one made up for the run and
    // handed over as text, so no key file is written.
    let master = MasterKey::generate()?;
    let key = || KeySource::Text(keyhold::Zeroizing::new(master.to_base64url().to_string()));
    let (kh, report) = Keyhold::init(&data_dir, key())?;
    println!(
        "store created in {} (workspace {})",
        report.data_dir.display(),
        report.workspace.name
    );

    // The credential arrives as a SecretBytes: redacted in Debug, zeroized on drop.
    let credential = SecretBytes::copy_from(b"postgres://app:s3cret@db.internal/app");
    let info = kh.put_record(
        &keyhold::Caller::operator(),
        "default",
        "connection",
        "orders-db",
        &credential,
    )?;
    println!(
        "stored {}/{} version {} under KEK {}",
        info.kind, info.id, info.version, info.kek_id
    );
    println!("Debug of the secret prints: {credential:?}");

    // Another handle on the same store (as another process would have) reads it back.
    let other = Keyhold::open(&data_dir, key())?;
    let read_back = other.record(
        &keyhold::Caller::operator(),
        "default",
        "connection",
        "orders-db",
    )?;
    // EXPOSE: the example compares the value to show the round trip.
    assert_eq!(read_back.expose(), credential.expose());
    println!("read back {} bytes", read_back.len());

    let kek = kh.rotate_kek(&keyhold::Caller::operator())?;
    println!(
        "KEK rotated to {}: {} record(s) re-wrapped",
        kek.active_kek, kek.rewrapped
    );
    let status = kh.status()?;
    println!(
        "status: {} KEK(s), {} record(s), schema v{}",
        status.kek_count, status.records, status.schema_version
    );
    Ok(())
}
