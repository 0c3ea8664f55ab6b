//! Authenticated rows (`keyhold-integrity`): the row key's place in the key hierarchy. It is
//! a random key sealed as an envelope record, so it never sits in the database in clear and
//! rotates with the KEKs; which rows it authenticates, and how, is `keyhold-integrity`'s.

use keyhold_crypto::RowKey;
use keyhold_integrity::row_key_record;
use keyhold_store::Tx;

use crate::{Error, Keyhold, Result};

impl Keyhold {
    /// Creates the row key (a new store, or the upgrade to authenticated rows) and seals it in
    /// `tx`. The handle holds it from now on; a rolled-back transaction discards the handle.
    pub(crate) fn create_row_key(&self, tx: &Tx<'_>) -> Result<()> {
        let key = RowKey::generate()?;
        self.seal_record(tx, row_key_record(), &key.to_secret_bytes())?;
        self.rows.install(key);
        Ok(())
    }

    /// Loads the row key from its sealed record.
    pub(crate) fn load_row_key(&self, tx: &Tx<'_>) -> Result<()> {
        let opened = match self.open_record(tx, &row_key_record()) {
            Ok(s) => Some(s),
            Err(Error::NotFound(_)) => None,
            Err(e) => return Err(e),
        };
        Ok(self.rows.load(opened.as_ref())?)
    }
}
