//! Hostile input: bad pointers, wrong sizes, unknown ioctls, quota exhaustion.

use crate::support::*;
use keyvault::uapi::*;
use keyvault::{Algorithm, KeyOptions, Vault};
use nix::errno::Errno;

/// Every ioctl of the ABI (`KV_IOCTLS`), at a NULL, a low, a kernel and the
/// last page's address.
pub fn every_ioctl_with_a_null_or_kernel_pointer_is_efault() {
    let v = ok(Vault::open());
    assert_eq!(
        KV_IOCTLS.len(),
        25,
        "a new ioctl: this test covers it already"
    );
    for io in KV_IOCTLS {
        for addr in [0, 8, KERNEL_ADDR, usize::MAX - 4095] {
            assert_eq!(
                ioctl_addr(&v, io.cmd, addr),
                Err(Errno::EFAULT),
                "{} at {addr:#x}",
                io.name
            );
        }
    }
    assert!(ok(v.list()).is_empty());
}

pub fn a_request_struct_cut_off_by_an_unmapped_page_is_efault() {
    let v = ok(Vault::open());
    let s = Straddle::new();
    let req = KvGenkey {
        algorithm: KV_ALG_AES256_GCM,
        ..Default::default()
    };
    // SAFETY: KvGenkey is plain old data.
    let bytes = unsafe {
        std::slice::from_raw_parts(
            (&req as *const KvGenkey).cast::<u8>(),
            size_of::<KvGenkey>(),
        )
    };
    let addr = s.fill(bytes, 8);
    expect_raw(ioctl_addr(&v, KV_IOC_GENKEY, addr), Errno::EFAULT);
    assert!(
        ok(v.list()).is_empty(),
        "no key may be made from a partial request"
    );
}

pub fn genkey_whose_result_cannot_be_written_back_leaves_no_key() {
    let v = ok(Vault::open());
    let m = Mapping::new(4096);
    let p = m.put(KvGenkey {
        algorithm: KV_ALG_AES256_GCM,
        ..Default::default()
    });
    m.read_only();
    expect_raw(ioctl_addr(&v, KV_IOC_GENKEY, p as usize), Errno::EFAULT);
    assert!(
        ok(v.list()).is_empty(),
        "a key nobody can name must not stay"
    );
}

pub fn import_whose_result_cannot_be_written_back_leaves_no_key() {
    let v = ok(Vault::open());
    let key = [3u8; 32];
    let m = Mapping::new(4096);
    let p = m.put(import_req(KV_ALG_AES256_GCM, &key));
    m.read_only();
    expect_raw(ioctl_addr(&v, KV_IOC_IMPORT, p as usize), Errno::EFAULT);
    assert!(ok(v.list()).is_empty());
}

pub fn import_with_a_bad_key_pointer_is_efault_and_leaves_no_key() {
    let v = ok(Vault::open());
    for key_ptr in [0u64, KERNEL_ADDR as u64, u64::MAX - 7] {
        let mut r = KvImport {
            key_ptr,
            ..import_req(KV_ALG_AES256_GCM, &[0; 32])
        };
        expect_raw(ioctl(&v, KV_IOC_IMPORT, &mut r), Errno::EFAULT);
    }
    // Key bytes that run into an unmapped page.
    let s = Straddle::new();
    let addr = s.fill(&[9u8; 32], 1);
    let mut r = KvImport {
        key_ptr: addr as u64,
        ..import_req(KV_ALG_AES256_GCM, &[0; 32])
    };
    expect_raw(ioctl(&v, KV_IOC_IMPORT, &mut r), Errno::EFAULT);
    assert!(ok(v.list()).is_empty());
}

/// Regression (found by kv-fuzz): DUP used to install the new fd and then
/// fail to write its number back, leaving the caller an fd it could not know.
pub fn dup_whose_reply_cannot_be_written_back_is_efault_and_installs_no_fd() {
    let v = ok(Vault::open());
    let open_fds = || {
        std::fs::read_dir("/proc/self/fd")
            .expect("/proc/self/fd")
            .count()
    };
    let m = Mapping::new(4096);
    let p = m.put(dup_req(KV_CAP_READONLY, &[]));
    m.read_only();
    let before = open_fds();
    for _ in 0..20 {
        expect_raw(ioctl_addr(&v, KV_IOC_DUP, p as usize), Errno::EFAULT);
    }
    assert_eq!(open_fds(), before, "a failed DUP left fds behind");
}

pub fn list_with_a_bad_ids_pointer_is_efault() {
    let v = ok(Vault::open());
    ok(v.generate(Algorithm::Aes128Gcm));
    for ids_ptr in [0u64, KERNEL_ADDR as u64] {
        let mut r = KvList {
            ids_ptr,
            max_ids: 4,
            ..Default::default()
        };
        expect_raw(ioctl(&v, KV_IOC_LIST, &mut r), Errno::EFAULT);
    }
    // A NULL array is fine when nothing would be written.
    let mut r = KvList {
        ids_ptr: 0,
        max_ids: 0,
        ..Default::default()
    };
    assert_eq!(ioctl(&v, KV_IOC_LIST, &mut r), Ok(0));
    assert_eq!(r.total, 1);
}

pub fn unknown_ioctls_are_enotty() {
    let v = ok(Vault::open());
    let mut buf = [0u8; 512];
    let ioc = |dir: u32, nr: u32, size: u32, ty: u32| (dir << 30) | (size << 16) | (ty << 8) | nr;
    let unknown = [
        ioc(3, 0x7f, 16, KV_IOC_MAGIC), // unused number
        ioc(3, 0x10, 8, KV_IOC_MAGIC),  // GENKEY's number, wrong size
        ioc(1, 0x10, size_of::<KvGenkey>() as u32, KV_IOC_MAGIC), // GENKEY, wrong direction
        ioc(3, 0x10, size_of::<KvGenkey>() as u32, b'K' as u32), // right shape, wrong magic
        0x5401,                         // TCGETS
        0,
    ];
    for cmd in unknown {
        expect_raw(ioctl(&v, cmd, &mut buf), Errno::ENOTTY);
    }
}

pub fn the_key_count_quota_is_edquot_and_frees_up_on_destroy() {
    let v = ok(Vault::open());
    let mut last = None;
    let mut made = 0;
    loop {
        match v.generate(Algorithm::Aes128Gcm) {
            Ok(id) => {
                made += 1;
                last = Some(id);
            }
            Err(e) => {
                assert_eq!(Errno::from_raw(e.errno()), Errno::EDQUOT, "{e}");
                break;
            }
        }
        assert!(made <= 1 << 20, "no quota");
    }
    assert_eq!(made, 4096, "the documented default max_keys_per_vault");
    expect_errno(
        v.import(Algorithm::Aes128Gcm, &[1; 16], &KeyOptions::default()),
        Errno::EDQUOT,
    );
    ok(v.destroy(last.unwrap()));
    ok(v.generate(Algorithm::Aes128Gcm));
    // Another vault has its own quota.
    ok(ok(Vault::open()).generate(Algorithm::Aes128Gcm));
}

pub fn the_key_bytes_quota_is_edquot() {
    let v = ok(Vault::open());
    let big = KeyOptions {
        bits: 1024,
        ..Default::default()
    };
    let mut made = 0;
    while v.generate_with(Algorithm::HmacSha512, &big).is_ok() {
        made += 1;
        assert!(made <= 4096, "no byte quota");
    }
    expect_errno(v.generate_with(Algorithm::HmacSha512, &big), Errno::EDQUOT);
    assert_eq!(
        made,
        262_144 / 128,
        "the documented default max_key_bytes_per_vault"
    );
    // The byte quota is now exactly full: even a 16-byte key is refused.
    expect_errno(v.generate(Algorithm::Aes128Gcm), Errno::EDQUOT);
}

/// This file's tests, in order.
pub fn tests() -> Vec<crate::support::harness::Test> {
    crate::tests![
        every_ioctl_with_a_null_or_kernel_pointer_is_efault,
        a_request_struct_cut_off_by_an_unmapped_page_is_efault,
        genkey_whose_result_cannot_be_written_back_leaves_no_key,
        import_whose_result_cannot_be_written_back_leaves_no_key,
        import_with_a_bad_key_pointer_is_efault_and_leaves_no_key,
        dup_whose_reply_cannot_be_written_back_is_efault_and_installs_no_fd,
        list_with_a_bad_ids_pointer_is_efault,
        unknown_ioctls_are_enotty,
        the_key_count_quota_is_edquot_and_frees_up_on_destroy,
        the_key_bytes_quota_is_edquot,
    ]
}
