//! State that survives: every truncation and a sample of single-bit flips of a state file are
//! rejected whole; atomic save/load round trips.

mod ledger_support;

use ledger_support::logs::{GenOpts, log};
use ledger_support::*;
use sha2::{Digest, Sha256};
use tollgate_engine::ledger::{Clock, Ledger, StateError};

fn sample_state() -> (Ledger, Vec<u8>) {
    let (customers, activity) = log(11, &GenOpts::default());
    let l = ledger();
    for line in customers.iter().chain(activity.iter()) {
        apply(&l, line);
    }
    let bytes = l.state_bytes();
    (l, bytes)
}

/// Re-frames a body with a valid checksum (to test what lies behind the checksum).
fn reframe(bytes: &[u8], edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut out = bytes[..bytes.len() - 32].to_vec();
    edit(&mut out);
    let sum = Sha256::digest(&out);
    out.extend_from_slice(&sum);
    out
}

#[test]
fn a_state_round_trips() {
    let (l, bytes) = sample_state();
    assert!(
        bytes.len() > 10_000,
        "a meaningful state: {} bytes",
        bytes.len()
    );
    let r = Ledger::restore(&bytes, Clock::Fixed(NOW)).unwrap();
    assert_eq!(r.state_bytes(), bytes);
    assert_eq!(r.report(None, None).unwrap(), l.report(None, None).unwrap());
}

#[test]
fn every_truncation_is_rejected() {
    let (_, bytes) = sample_state();
    for len in 0..bytes.len() {
        let r = Ledger::restore(&bytes[..len], Clock::Fixed(NOW));
        assert!(r.is_err(), "a state truncated to {len} bytes was accepted");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(
        Ledger::restore(&longer, Clock::Fixed(NOW)),
        Err(StateError::Truncated { .. })
    ));
}

#[test]
fn single_bit_flips_are_rejected() {
    let (_, bytes) = sample_state();
    let step = (bytes.len() / 1500).max(1);
    let mut tried = 0;
    for i in (0..bytes.len()).step_by(step) {
        let mut b = bytes.clone();
        b[i] ^= 1 << (i % 8);
        assert!(
            Ledger::restore(&b, Clock::Fixed(NOW)).is_err(),
            "a flip of bit {} of byte {i} was accepted",
            i % 8
        );
        tried += 1;
    }
    assert!(tried >= 1000);
}

#[test]
fn errors_say_what_is_wrong() {
    let (_, bytes) = sample_state();
    assert!(matches!(
        Ledger::restore(b"", Clock::System),
        Err(StateError::NotAState)
    ));
    assert!(matches!(
        Ledger::restore(b"{\"totals\":{}}", Clock::System),
        Err(StateError::NotAState)
    ));
    let mut flipped = bytes.clone();
    let mid = bytes.len() / 2;
    flipped[mid] ^= 0x10;
    assert!(matches!(
        Ledger::restore(&flipped, Clock::System),
        Err(StateError::ChecksumMismatch)
    ));
    // A future format version (with a valid checksum) is refused, not misread.
    let v4 = reframe(&bytes, |b| b[8] = 4);
    let e = Ledger::restore(&v4, Clock::System).unwrap_err();
    assert!(matches!(e, StateError::UnsupportedVersion(4)));
    assert!(e.to_string().contains("version 4 is not supported"));
    // Behind a valid checksum (and a matching length), inconsistent content is still caught.
    let short_body = reframe(&bytes, |b| {
        b.pop();
        let body_len = (b.len() - 20) as u64;
        b[12..20].copy_from_slice(&body_len.to_le_bytes());
    });
    let e = Ledger::restore(&short_body, Clock::System).unwrap_err();
    // The last section (retained keys) no longer holds as many entries as it announces.
    assert!(matches!(e, StateError::Invalid(_)), "{e}");
    assert!(e.to_string().contains("count exceeds"), "{e}");
    let bad_names = reframe(&bytes, |b| {
        // The names count sits after window (8), clock (1 + 8) and first activity (1 + 8): make
        // it huge.
        let at = 20 + 8 + 9 + 9;
        b[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    });
    let e = Ledger::restore(&bad_names, Clock::System).unwrap_err();
    assert!(matches!(e, StateError::Invalid(_)), "{e}");
    assert!(e.to_string().contains("count exceeds"), "{e}");
}

#[test]
fn save_is_atomic_and_load_round_trips() {
    let (l, bytes) = sample_state();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.state");
    l.save(&path).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    // Saving again replaces the file; no temporary file is left behind.
    apply(
        &l,
        r#"{"type":"tool","customerId":"c9","externalCostCents":"1","ts":"2026-01-03T00:00:00Z"}"#,
    );
    l.save(&path).unwrap();
    // (Beside it only the save lock file, which stays.)
    let entries: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name() != tollgate_engine::ledger::SAVE_LOCK_FILE)
        .collect();
    assert_eq!(entries.len(), 1);
    let back = Ledger::load(&path, Clock::Fixed(NOW)).unwrap();
    assert_eq!(back.state_bytes(), l.state_bytes());
    // A truncated file on disk is refused whole.
    let full = std::fs::read(&path).unwrap();
    std::fs::write(&path, &full[..full.len() / 2]).unwrap();
    assert!(matches!(
        Ledger::load(&path, Clock::Fixed(NOW)),
        Err(StateError::Truncated { .. })
    ));
    assert!(matches!(
        Ledger::load(&dir.path().join("missing"), Clock::System),
        Err(StateError::Io(_))
    ));
}
