//! libkeyvault's algorithm table (`Algorithm::key_bits`, `usages`,
//! `default_usage`: what `kvctl algorithms` prints) is the module's
//! (kmod/pure/alg.rs): the same sizes and operations for every algorithm.

use keyvault::{Algorithm, Caps};
use keyvault_pure::alg::ALL_ALGS;

#[test]
fn libkeyvaults_algorithm_table_is_the_modules() {
    assert_eq!(Algorithm::ALL.len(), ALL_ALGS.len());
    for alg in ALL_ALGS {
        let lib = Algorithm::from_raw(alg.to_abi()).expect("libkeyvault knows every algorithm");
        let (sizes, bits) = (alg.key_sizes(), lib.key_bits());
        let bytes = |b: u32| b as usize / 8;
        assert_eq!(
            (sizes.min, sizes.max, sizes.default),
            (bytes(bits.min), bytes(bits.max), bytes(bits.default)),
            "{lib}"
        );
        assert_eq!(lib.usages(), Caps::from_bits_retain(alg.usage()), "{lib}");
        assert_eq!(
            lib.default_usage(),
            Caps::from_bits_retain(alg.default_usage()),
            "{lib}"
        );
    }
}
