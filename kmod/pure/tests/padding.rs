//! Host tests of PKCS#7 padding (kmod/pure/padding.rs), exhaustive over the
//! last block's byte values where it matters.

use keyvault_pure::padding::{pad, padded_len, unpad, BLOCK};

#[test]
fn padded_length_always_adds_one_to_sixteen_bytes() {
    assert_eq!(padded_len(0), Some(16));
    assert_eq!(padded_len(15), Some(16));
    assert_eq!(padded_len(16), Some(32));
    assert_eq!(padded_len(17), Some(32));
    assert_eq!(padded_len(usize::MAX), None);
}

#[test]
fn pad_then_unpad_round_trips_every_length_up_to_three_blocks() {
    for len in 0..=48 {
        let total = padded_len(len).unwrap();
        let mut buf = vec![0xa5u8; total];
        assert!(pad(&mut buf, len));
        assert_eq!(unpad(&buf), Some(len), "len {len}");
        let n = total - len;
        assert!(buf[len..].iter().all(|&b| b as usize == n));
    }
}

#[test]
fn pad_refuses_a_buffer_of_the_wrong_size() {
    let mut buf = [0u8; 16];
    assert!(!pad(&mut buf, 16));
    assert!(!pad(&mut buf, 17));
    let mut big = [0u8; 48];
    assert!(!pad(&mut big, 10), "more than one block of padding");
}

#[test]
fn unpad_accepts_exactly_the_valid_paddings() {
    // Every value of the last byte, with the pad bytes before it all equal.
    for last in 0..=255u8 {
        let mut buf = [0x11u8; 32];
        let n = last as usize;
        for b in buf.iter_mut().rev().take(n.min(BLOCK)) {
            *b = last;
        }
        buf[31] = last;
        let want = (1..=BLOCK).contains(&n).then(|| 32 - n);
        assert_eq!(unpad(&buf), want, "last byte {last}");
    }
}

#[test]
fn unpad_rejects_a_pad_with_one_wrong_byte() {
    for n in 2..=BLOCK {
        for wrong in 0..n {
            let mut buf = [0u8; 32];
            pad(&mut buf, 32 - n);
            buf[31 - wrong] ^= 0x80;
            assert_eq!(unpad(&buf), None, "n {n}, byte {wrong}");
        }
    }
}

#[test]
fn unpad_rejects_empty_and_partial_blocks() {
    assert_eq!(unpad(&[]), None);
    assert_eq!(unpad(&[1u8; 15]), None);
    assert_eq!(unpad(&[1u8; 17]), None);
}

#[test]
fn unpad_agrees_with_the_reference_implementation_on_random_blocks() {
    use cbc::cipher::block_padding::{Padding, Pkcs7};
    use cbc::cipher::generic_array::GenericArray;
    let mut state = 0x1234_5678_9abc_def0u64;
    for _ in 0..20_000 {
        let mut block = [0u8; 16];
        for b in block.iter_mut() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *b = state as u8;
        }
        // Bias toward plausible paddings so both outcomes are exercised.
        let n = (state >> 8) as u8 % 18;
        for b in block.iter_mut().rev().take(n as usize % 17) {
            *b = n;
        }
        let block16: &GenericArray<u8, cbc::cipher::consts::U16> = GenericArray::from_slice(&block);
        let reference = Pkcs7::unpad(block16).ok().map(|s| s.len());
        assert_eq!(unpad(&block), reference, "{block:02x?}");
    }
}
