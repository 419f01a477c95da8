//! Known-answer vectors through the module: Wycheproof for the symmetric
//! algorithms (wycheproof.rs) and for Ed25519, X25519 and HKDF
//! (asym_wycheproof.rs), and the RFC vectors other tests use (rfc.rs).

pub mod asym_wycheproof;
pub mod rfc;
pub mod wycheproof;
