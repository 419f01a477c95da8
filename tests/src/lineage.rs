//! Derived-key lineage: a child's expiry bound by its parent's, revocation
//! cascading down a line, destroying a parent, the depth limit.

use crate::support::*;
use keyvault::uapi::*;
use keyvault::{Algorithm, KeyId, Vault};
use nix::errno::Errno;
use std::time::Duration;

// ---------------------------------------------------------------------------
// Lineage

pub fn derived_keys_expire_no_later_than_their_parent() {
    let v = ok(Vault::open());
    let parent = ok(v.import(Algorithm::HmacSha256, &data(32, 5), &ttl(300)));
    let child0 = derive_hmac(&v, parent, b"", "TTL 0");
    let child60 = derive_ttl(&v, parent, 60_000, "TTL 60 s");
    let grandchild = derive_hmac(&v, child0, b"", "grandchild");
    let short = derive_ttl(&v, parent, 100, "TTL 100 ms");
    ok(v.mac(child0, MSG));
    let p = must(getinfo(&v, parent), "parent");
    assert_ne!(p.expires_ms, 0);
    // Each key's expiry is its own creation time (wall clock, ms, read a
    // moment after its boot-clock creation instant) plus its TTL, both
    // rounded down: allow 1 ms of rounding.
    for (what, id) in [
        ("TTL 0", child0),
        ("TTL 60 s", child60),
        ("grandchild", grandchild),
    ] {
        let c = must(getinfo(&v, id), what);
        assert_ne!(c.expires_ms, 0, "{what}: no expiry");
        assert!(
            c.expires_ms <= p.expires_ms + 1,
            "{what}: expires at {}, after its parent ({})",
            c.expires_ms,
            p.expires_ms
        );
        assert!(
            c.expires_ms + 100 > p.expires_ms,
            "{what}: expires much earlier than its parent"
        );
    }
    let s = must(getinfo(&v, short), "TTL 100 ms");
    assert!(s.expires_ms <= s.created_ms + 100 && s.expires_ms < p.expires_ms);
    std::thread::sleep(Duration::from_millis(500));
    for (what, id) in [
        ("parent", parent),
        ("TTL 0", child0),
        ("TTL 60 s", child60),
        ("grandchild", grandchild),
        ("TTL 100 ms", short),
    ] {
        expect_errno(v.mac(id, MSG), Errno::EKEYEXPIRED);
        assert_eq!(
            must(getinfo(&v, id), what).state,
            KV_STATE_EXPIRED,
            "{what}"
        );
    }
    // A parent without a TTL leaves the child its own, or none.
    let forever = import_hmac(&v, &data(32, 6));
    let none = derive_hmac(&v, forever, b"", "no TTL");
    assert_eq!(must(getinfo(&v, none), "no TTL").expires_ms, 0);
    let own = derive_ttl(&v, forever, 60_000, "own TTL");
    let o = must(getinfo(&v, own), "own TTL");
    assert!(o.expires_ms >= o.created_ms + 59_999 && o.expires_ms <= o.created_ms + 60_000);
}

/// DERIVE (HKDF-SHA256 with `info`) of an HMAC-SHA256 key from `parent`,
/// which must succeed.
#[track_caller]
fn derive_hmac(v: &Vault, parent: KeyId, info: &[u8], what: &str) -> KeyId {
    must(derive(v, parent, &Kdf { info, ..HMAC256 }), what)
}

/// DERIVE of an HMAC-SHA256 key with a TTL of `ttl_ms` from `parent`, which
/// must succeed.
#[track_caller]
fn derive_ttl(v: &Vault, parent: KeyId, ttl_ms: u64, what: &str) -> KeyId {
    must(derive(v, parent, &Kdf { ttl_ms, ..HMAC256 }), what)
}

/// Asserts `id` is unusable because it (or an ancestor) was revoked.
#[track_caller]
fn assert_revoked(v: &Vault, id: KeyId, what: &str) {
    let info = must(getinfo(v, id), what);
    assert_eq!(info.state, KV_STATE_REVOKED, "{what}: GETINFO state");
    let r = if info.algorithm == KV_ALG_AES256_GCM {
        v.aead_encrypt(id, MSG, b"", None).map(drop)
    } else {
        v.mac(id, MSG).map(drop)
    };
    match r {
        Err(e) if Errno::from_raw(e.errno()) == Errno::EKEYREVOKED => {}
        other => panic!("{what}: expected EKEYREVOKED, got {other:?}"),
    }
    if info.algorithm != KV_ALG_AES256_GCM {
        fails(
            derive(v, id, &HMAC256),
            Errno::EKEYREVOKED,
            &format!("DERIVE from the {what}"),
        );
    }
}

pub fn revoking_a_key_revokes_its_children_and_grandchildren_but_not_its_parent() {
    let v = ok(Vault::open());
    let root = import_hmac(&v, &data(32, 7));
    let child = derive_hmac(&v, root, b"", "child");
    let grandchild = derive_hmac(&v, child, b"g", "grandchild");
    let aead_grandchild = must(
        derive(&v, child, &Kdf::new(KV_HASH_SHA256, KV_ALG_AES256_GCM)),
        "AEAD grandchild",
    );
    let sibling = derive_hmac(&v, root, b"s", "sibling");
    let unrelated = import_hmac(&v, &data(32, 8));
    ok(v.mac(grandchild, MSG));
    ok(v.revoke(root));
    assert_revoked(&v, root, "root");
    assert_revoked(&v, child, "child");
    assert_revoked(&v, grandchild, "grandchild");
    assert_revoked(&v, aead_grandchild, "AEAD grandchild");
    assert_revoked(&v, sibling, "sibling");
    ok(v.mac(unrelated, MSG));

    // Revoking a key in the middle: it and what comes from it, not its
    // parent or its sibling.
    let root = import_hmac(&v, &data(32, 9));
    let mid = derive_hmac(&v, root, b"", "middle key");
    let leaf = derive_hmac(&v, mid, b"", "leaf");
    let mid_sibling = derive_hmac(&v, root, b"s", "sibling");
    ok(v.revoke(mid));
    assert_revoked(&v, mid, "middle key");
    assert_revoked(&v, leaf, "leaf");
    ok(v.mac(root, MSG));
    ok(v.mac(mid_sibling, MSG));
    assert_eq!(must(getinfo(&v, root), "root").state, KV_STATE_ACTIVE);
    must(
        derive(&v, root, &HMAC256),
        "DERIVE from the parent of a revoked key",
    );

    // An exchanged key descends from its X25519 key.
    let x = ok(v.generate(Algorithm::X25519));
    let exchanged = must(exchange(&v, x, &some_peer(), &HMAC256), "exchanged");
    let below = derive_hmac(&v, exchanged, b"", "derived from the exchanged key");
    ok(v.mac(below, MSG));
    ok(v.revoke(x));
    assert_revoked(&v, exchanged, "exchanged key");
    assert_revoked(&v, below, "key derived from the exchanged key");
}

pub fn destroying_a_parent_leaves_its_children_usable_and_still_revocable_as_a_line() {
    let v = ok(Vault::open());
    let ikm = data(32, 9);
    let root = import_hmac(&v, &ikm);
    let child = derive_hmac(&v, root, b"", "child");
    let grandchild = derive_hmac(&v, child, b"", "grandchild");
    let x = ok(v.generate(Algorithm::X25519));
    let exchanged = must(exchange(&v, x, &some_peer(), &HMAC256), "exchanged");
    ok(v.destroy(root));
    ok(v.destroy(x));
    let okm = host_hkdf(KV_HASH_SHA256, b"", &ikm, b"", 32);
    assert_hmac_key(
        &v,
        child,
        KV_ALG_HMAC_SHA256,
        &okm,
        "child after its parent was destroyed",
    );
    ok(v.mac(exchanged, MSG));
    assert_eq!(must(getinfo(&v, child), "child").state, KV_STATE_ACTIVE);
    must(derive(&v, child, &HMAC256), "DERIVE from the child");
    // The line below the destroyed key is intact: revoking the child still
    // revokes the grandchild.
    ok(v.revoke(child));
    expect_errno(v.mac(grandchild, MSG), Errno::EKEYREVOKED);
}

pub fn derivation_goes_at_most_8_generations_deep() {
    let v = ok(Vault::open());
    let root = ok(v.generate(Algorithm::HmacSha256));
    let mut cur = root;
    for generation in 1..=KV_MAX_LINEAGE {
        cur = must(
            derive(&v, cur, &HMAC256),
            &format!("generation {generation}"),
        );
    }
    ok(v.mac(cur, MSG));
    fails(derive(&v, cur, &HMAC256), Errno::EINVAL, "generation 9");
    assert_eq!(n_keys(&v), 9, "the refused generation left a key");
    // An exchanged key is the first generation below its X25519 key.
    let x = ok(v.generate(Algorithm::X25519));
    let mut cur = must(
        exchange(&v, x, &some_peer(), &HMAC256),
        "exchanged, generation 1",
    );
    for generation in 2..=KV_MAX_LINEAGE {
        cur = must(
            derive(&v, cur, &HMAC256),
            &format!("generation {generation} below X25519"),
        );
    }
    fails(
        derive(&v, cur, &HMAC256),
        Errno::EINVAL,
        "generation 9 below X25519",
    );
    assert_eq!(n_keys(&v), 18);
}

/// This file's tests, in order.
pub fn tests() -> Vec<crate::support::harness::Test> {
    crate::tests![
        derived_keys_expire_no_later_than_their_parent,
        revoking_a_key_revokes_its_children_and_grandchildren_but_not_its_parent,
        destroying_a_parent_leaves_its_children_usable_and_still_revocable_as_a_line,
        derivation_goes_at_most_8_generations_deep,
    ]
}
