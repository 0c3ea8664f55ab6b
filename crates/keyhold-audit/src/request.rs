//! Request ids: what correlates a request across logs, responses and the audit trail.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// A fresh request id: `req_` and 16 hex digits, unique within the process and, by a random
/// per-process starting point, across processes. Ids identify requests; they are not
/// secrets, so after the first one no system call is spent on them (a server makes one per
/// request).
pub fn new_request_id() -> String {
    static SEED: OnceLock<u64> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let seed = *SEED.get_or_init(|| {
        let mut b = [0u8; 8];
        // Without the OS random source, ids still differ within this process.
        let _ = keyhold_crypto::random::fill(&mut b);
        u64::from_le_bytes(b)
    });
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    // An odd multiplier is a bijection on u64: consecutive requests get unrelated-looking ids.
    format!(
        "req_{:016x}",
        seed.wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_have_their_form_and_do_not_repeat() {
        let (a, b) = (new_request_id(), new_request_id());
        assert_ne!(a, b);
        for id in [a, b] {
            assert_eq!(id.len(), 20, "{id}");
            assert!(id.starts_with("req_"), "{id}");
            assert!(id[4..].chars().all(|c| c.is_ascii_hexdigit()), "{id}");
        }
    }
}
