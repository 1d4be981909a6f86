//! A hostile transformer for the sandbox tests: it behaves like `a3-app-instances` except on
//! records whose payload contains a marker:
//! `@@panic@@` panics, `@@loop@@` never returns, `@@alloc@@` allocates without bound.
use dialogsync_sdk::types::{RecordError, SourceRecord, Transformed};

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
fn misbehave(record: &SourceRecord) -> Result<Transformed, RecordError> {
    let has = |m: &[u8]| record.payload.windows(m.len()).any(|w| w == m);
    if has(b"@@panic@@") {
        panic!("hostile guest: panic on marked record {}", record.source_id);
    }
    if has(b"@@loop@@") {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
    if has(b"@@alloc@@") {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(vec![1u8; 1 << 20]);
            std::hint::black_box(&hoard);
        }
    }
    a3_app_instances::instance::transform(record)
}

dialogsync_sdk::export_transformer!(misbehave);
