//! A tiny test runner: each test is a function that panics on failure.
//! Prints one line per test and, last, `N passed, N failed`.

use keyvault::{Error, Result};
use nix::errno::Errno;
use std::panic;
use std::time::Instant;

/// A named test, and the file (module) it is in.
pub struct Test {
    pub file: &'static str,
    pub name: &'static str,
    pub run: fn(),
}

/// Declares a list of tests from function names.
#[macro_export]
macro_rules! tests {
    ($($f:path),* $(,)?) => {
        vec![$($crate::support::harness::Test { file: module_path!(), name: stringify!($f), run: $f }),*]
    };
}

/// The errno of a call that must fail.
#[track_caller]
pub fn errno<T: std::fmt::Debug>(r: Result<T>) -> Errno {
    match r {
        Ok(v) => panic!("expected an error, got Ok({v:?})"),
        Err(e) => Errno::from_raw(e.errno()),
    }
}

/// Asserts a call fails with `want`.
#[track_caller]
pub fn expect_errno<T: std::fmt::Debug>(r: Result<T>, want: Errno) {
    let got = errno(r);
    assert_eq!(got, want, "expected {want}, got {got}");
}

/// Asserts a verify or verify-mac said "no" (the signature or MAC does not
/// match), and not that the check failed some other way.
#[track_caller]
pub fn expect_verification_failure(r: Result<()>, what: &str) {
    match r {
        Ok(()) => panic!("{what}: expected a verification failure, got Ok"),
        Err(e) => assert!(
            e.is_verification_failure(),
            "{what}: expected a verification failure, got {e}"
        ),
    }
}

/// Asserts a raw ioctl result failed with `want`.
#[track_caller]
pub fn expect_raw(r: std::result::Result<i32, Errno>, want: Errno) {
    match r {
        Ok(v) => panic!("expected {want}, got Ok({v})"),
        Err(e) => assert_eq!(e, want, "expected {want}, got {e}"),
    }
}

/// Unwraps with the keyvault error's explanation.
#[track_caller]
pub fn ok<T>(r: Result<T>) -> T {
    r.unwrap_or_else(|e: Error| panic!("{e}"))
}

/// Runs the tests whose names contain `filter`; returns (passed, failed).
pub fn run(tests: Vec<Test>, filter: Option<&str>) -> (usize, usize) {
    panic::set_hook(Box::new(|info| {
        let loc = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| info.payload().downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        eprintln!("    {msg}{loc}");
    }));
    let (mut passed, mut failed) = (0, 0);
    for t in tests
        .into_iter()
        .filter(|t| filter.is_none_or(|f| format!("{}::{}", t.file, t.name).contains(f)))
    {
        let start = Instant::now();
        let r = panic::catch_unwind(t.run);
        let ms = start.elapsed().as_millis();
        match r {
            Ok(()) => {
                passed += 1;
                println!("ok   {} ({ms} ms)", t.name);
            }
            Err(_) => {
                failed += 1;
                println!("FAIL {} ({ms} ms)", t.name);
            }
        }
    }
    (passed, failed)
}

/// Asserts a library call failed with `want`, naming the case.
#[track_caller]
pub fn expect_err<T: std::fmt::Debug>(r: keyvault::Result<T>, want: Errno, what: &str) {
    match r {
        Ok(v) => panic!("{what}: expected {want}, got Ok({v:?})"),
        Err(e) => assert_eq!(Errno::from_raw(e.errno()), want, "{what}: expected {want}, got {e}"),
    }
}

/// Asserts a raw ioctl failed with `want`, naming the case.
#[track_caller]
pub fn expect_raw_err(r: std::result::Result<i32, Errno>, want: Errno, what: &str) {
    match r {
        Ok(v) => panic!("{what}: expected {want}, got Ok({v})"),
        Err(e) => assert_eq!(e, want, "{what}: expected {want}, got {e}"),
    }
}

/// Unwraps a raw result, naming the case.
#[track_caller]
pub fn must<T>(r: std::result::Result<T, Errno>, what: &str) -> T {
    r.unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// Asserts a raw result failed with `want`, naming the case.
#[track_caller]
pub fn fails<T: std::fmt::Debug>(r: std::result::Result<T, Errno>, want: Errno, what: &str) {
    match r {
        Ok(v) => panic!("{what}: expected {want}, got Ok({v:?})"),
        Err(e) => assert_eq!(e, want, "{what}: expected {want}, got {e}"),
    }
}
