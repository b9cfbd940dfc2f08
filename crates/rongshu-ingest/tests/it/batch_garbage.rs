//! Whatever bytes arrive, no batch reader panics.

use proptest::prelude::*;
use rongshu_ingest::{BatchFormat, ReadOptions};

use crate::batch_support::open_with;

fn drain(format: BatchFormat, bytes: &[u8]) {
    let options = ReadOptions {
        max_row_bytes: 256,
        ..ReadOptions::default()
    };
    if let Ok(mut b) = open_with(format, bytes, &options) {
        // A reader may stop after a file-level error; it must not loop forever.
        let mut n = 0;
        while let Some(next) = b.next_row() {
            n += 1;
            if next.is_err() || n > 10_000 {
                break;
            }
        }
    }
}

fn texty() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![
            Just(b'"'),
            Just(b','),
            Just(b'\n'),
            Just(b'{'),
            Just(b'}'),
            Just(b'['),
            Just(b']'),
            Just(b':'),
            Just(b'\\'),
            Just(b';'),
            any::<u8>(),
        ],
        0..1024,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        for format in [BatchFormat::Csv, BatchFormat::Json, BatchFormat::Xlsx] {
            drain(format, &bytes);
        }
    }

    #[test]
    fn structured_noise_never_panics(body in texty(), array in any::<bool>()) {
        let mut bytes = if array { b"[".to_vec() } else { b"id,age\n".to_vec() };
        bytes.extend(body);
        drain(BatchFormat::Csv, &bytes);
        drain(BatchFormat::Json, &bytes);
    }
}
