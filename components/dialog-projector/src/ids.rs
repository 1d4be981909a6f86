//! Deterministic UUIDv7 ids: the time bits from the thing's own time, the rest from a hash of
//! its identity, so re-running a migration always yields the same ids (DESIGN.md invariant 1).

use sha2::{Digest, Sha256};
use uuid::{Builder, Uuid};

/// A UUIDv7 whose timestamp is `at_micros` (clamped to the epoch) and whose other bits come
/// from SHA-256 of `parts`, joined unambiguously.
pub fn uuid7(at_micros: i64, parts: &[&str]) -> Uuid {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    let digest = h.finalize();
    let mut bits = [0u8; 10];
    bits.copy_from_slice(&digest[..10]);
    let millis = u64::try_from(at_micros.div_euclid(1000)).unwrap_or(0);
    Builder::from_unix_timestamp_millis(millis, &bits).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_identity_same_id_and_time_bits_are_v7() {
        let a = uuid7(1_579_784_438_742_592, &["a3-app-instances", "x"]);
        assert_eq!(a, uuid7(1_579_784_438_742_592, &["a3-app-instances", "x"]));
        assert_ne!(a, uuid7(1_579_784_438_742_592, &["a3-app-instances", "y"]));
        assert_ne!(uuid7(0, &["ab", "c"]), uuid7(0, &["a", "bc"]));
        assert_eq!(a.get_version_num(), 7);
        let (secs, _) = a.get_timestamp().unwrap().to_unix();
        assert_eq!(secs, 1_579_784_438);
    }
}
