//! Published test vectors the tests use: RFC 7748 (X25519), RFC 5869 (HKDF)
//! and RFC 8032 (Ed25519), checked on the host against the reference crates.

use crate::support::*;

// ---------------------------------------------------------------------------
// Vectors

/// RFC 7748 section 6.1.
pub const ALICE_PRIVATE: &str = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";

pub const ALICE_PUBLIC: &str = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";

pub const BOB_PRIVATE: &str = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";

pub const BOB_PUBLIC: &str = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";

pub const SHARED: &str = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

/// Every encoding of an X25519 u-coordinate whose multiple by any clamped
/// scalar is 0 (the points of order 1, 2, 4 and 8, canonical and with
/// u + p, each also with the ignored top bit set): the 14 public keys of
/// Wycheproof's zero-shared-secret vectors.
pub const LOW_ORDER: [&str; 14] = [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000080",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f11d7",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
];

/// An RFC 5869 test case (SHA-256): IKM, salt, info, OKM.
pub struct Rfc5869 {
    pub name: &'static str,
    pub ikm: Vec<u8>,
    pub salt: Vec<u8>,
    pub info: Vec<u8>,
    pub okm: Vec<u8>,
}

/// RFC 5869 appendix A, test cases 1 to 3 (the SHA-256 ones).
pub fn rfc5869() -> [Rfc5869; 3] {
    let range = |a: u8, b: u8| (a..=b).collect::<Vec<u8>>();
    [
        Rfc5869 {
            name: "test case 1",
            ikm: vec![0x0b; 22],
            salt: range(0x00, 0x0c),
            info: range(0xf0, 0xf9),
            okm: hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"),
        },
        Rfc5869 {
            name: "test case 2",
            ikm: range(0x00, 0x4f),
            salt: range(0x60, 0xaf),
            info: range(0xb0, 0xff),
            okm: hex(concat!(
                "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c",
                "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71",
                "cc30c58179ec3e87c14c01d5c1f3434f1d87"
            )),
        },
        Rfc5869 {
            name: "test case 3",
            ikm: vec![0x0b; 22],
            salt: vec![],
            info: vec![],
            okm: hex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"),
        },
    ]
}

include!("../../../kmod/pure/tests/vectors/rfc8032.rs");

/// The vectors above, checked on the host against the reference crates, so
/// a transcription error shows here and not as a module failure in the VM.
#[cfg(test)]
mod host {
    use super::*;
    use crate::asym::{dalek_sign, dalek_verify_strict, with_s_plus_l};
    use curve25519_dalek::montgomery::MontgomeryPoint;
    use keyvault::uapi::*;

    #[test]
    fn rfc_7748_vectors_agree_with_curve25519_dalek() {
        for (private, public) in [(ALICE_PRIVATE, ALICE_PUBLIC), (BOB_PRIVATE, BOB_PUBLIC)] {
            assert_eq!(
                MontgomeryPoint::mul_base_clamped(arr(private)).to_bytes(),
                arr::<32>(public)
            );
        }
        let shared = MontgomeryPoint(arr(BOB_PUBLIC)).mul_clamped(arr(ALICE_PRIVATE));
        assert_eq!(shared.to_bytes(), arr::<32>(SHARED));
    }

    #[test]
    fn low_order_points_give_a_zero_shared_secret() {
        for p in LOW_ORDER {
            for seed in 0..4 {
                let out = MontgomeryPoint(arr(p)).mul_clamped(rand32(seed));
                assert_eq!(out.to_bytes(), [0; 32], "{p}");
            }
        }
    }

    #[test]
    fn rfc_5869_vectors_agree_with_the_hkdf_crate() {
        for tc in rfc5869() {
            let okm = host_hkdf(KV_HASH_SHA256, &tc.salt, &tc.ikm, &tc.info, tc.okm.len());
            assert_eq!(okm, tc.okm, "{}", tc.name);
        }
    }

    #[test]
    fn rfc_8032_vectors_agree_with_ed25519_dalek() {
        for (name, seed, public, msg, sig) in RFC8032 {
            let (p, s) = dalek_sign(&arr(seed), &hex(msg));
            assert_eq!(p, arr::<32>(public), "{name}");
            assert_eq!(s, arr::<64>(sig), "{name}");
            assert!(dalek_verify_strict(&p, &hex(msg), &s));
        }
    }

    #[test]
    fn s_plus_l_and_the_trivial_signature_are_refused_by_strict_verification() {
        let (public, sig) = dalek_sign(&rand32(1), b"m");
        assert!(dalek_verify_strict(&public, b"m", &sig));
        assert!(!dalek_verify_strict(&public, b"m", &with_s_plus_l(&sig)));
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut trivial = [0u8; 64];
        trivial[0] = 1;
        assert!(!dalek_verify_strict(&identity, b"m", &trivial));
        // ... which the lax, cofactorless check without point checks accepts:
        // the module must be the strict kind.
        let k = ed25519_dalek::VerifyingKey::from_bytes(&identity).unwrap();
        use ed25519_dalek::Verifier;
        assert!(k
            .verify(b"m", &ed25519_dalek::Signature::from_bytes(&trivial))
            .is_ok());
    }
}
