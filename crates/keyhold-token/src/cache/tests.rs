use super::*;

#[test]
fn the_tail_hash_depends_only_on_the_last_32_bytes() {
    use std::hash::BuildHasher;
    let h = TailHash::default();
    let a = format!("{}{}", "x".repeat(40), "k".repeat(32));
    let b = format!("{}{}", "y".repeat(40), "k".repeat(32));
    assert_eq!(h.hash_one(a.as_str()), h.hash_one(b.as_str()));
    assert_ne!(h.hash_one("short-a"), h.hash_one("short-b"));
}
