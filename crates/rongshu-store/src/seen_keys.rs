//! The keys a batch has staged, remembered roughly as the rows go in, so that
//! finding the rows that repeat an earlier key need not sort every staged
//! row by key. That sort took a second of a million rows' five seconds of
//! staging, and grows faster than the file.
//!
//! A fixed-size Bloom filter says of each key whether it may have been seen
//! before: never wrongly "no", now and then wrongly "yes". A key of which it
//! says "yes" is a suspect. No suspect means no repeat; a few suspects mean
//! only their keys need comparing; too many to keep, and every key is. The
//! memory is the same whatever the file's size: the filter's, and the
//! suspects' up to their cap.

/// 512-bit blocks: one key's bits all lie in one block, one cache line.
type Block = [u64; 8];

/// Blocks in the filter: 2^28 bits, 32 MiB, of which a small file touches
/// only the pages it sets bits in. Ten million keys leave an expected
/// handful of suspects; at tens of millions they grow to thousands.
const BLOCKS: usize = 1 << 19;

/// Bits set per key, each chosen by 9 bits of the digest.
const BITS_PER_KEY: u32 = 7;

/// Suspects kept at most (16 MiB of digests); past it every key is compared.
const MAX_SUSPECTS: usize = 1 << 20;

/// What the filter concluded about a batch's keys.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict<'a> {
    /// No key can have been staged twice.
    NoRepeats,
    /// Only these keys may have been.
    Suspects(&'a [u128]),
    /// Too many keys may have been; compare them all.
    Unknown,
}

pub(crate) struct SeenKeys {
    blocks: Vec<Block>,
    suspects: Vec<u128>,
    overflowed: bool,
}

impl SeenKeys {
    pub(crate) fn new() -> Self {
        Self {
            // All zero: allocated untouched, so the pages come as used.
            blocks: vec![[0; 8]; BLOCKS],
            suspects: Vec::new(),
            overflowed: false,
        }
    }

    /// Note a staged row's key digest; returns whether the key is a
    /// suspect (it may have been noted before).
    pub(crate) fn note(&mut self, digest: u128) -> bool {
        let block_index = ((digest >> 64) as usize) % BLOCKS;
        let mut bits = digest as u64;
        let mut seen = true;
        if let Some(block) = self.blocks.get_mut(block_index) {
            for _ in 0..BITS_PER_KEY {
                let bit = (bits & 511) as usize;
                bits >>= 9;
                let mask = 1u64 << (bit % 64);
                let word = &mut block[bit / 64];
                if *word & mask == 0 {
                    seen = false;
                    *word |= mask;
                }
            }
        }
        if seen && !self.overflowed {
            if self.suspects.len() < MAX_SUSPECTS {
                self.suspects.push(digest);
            } else {
                self.overflowed = true;
                self.suspects = Vec::new();
            }
        }
        seen
    }

    pub(crate) fn verdict(&self) -> Verdict<'_> {
        if self.overflowed {
            Verdict::Unknown
        } else if self.suspects.is_empty() {
            Verdict::NoRepeats
        } else {
            Verdict::Suspects(&self.suspects)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A digest spread over all 128 bits, as the checker's hashes are.
    fn digest(n: u64) -> u128 {
        let mix = |x: u64| {
            let x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            let x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            x ^ (x >> 31)
        };
        (u128::from(mix(n)) << 64) | u128::from(mix(n ^ 0x9e37_79b9_7f4a_7c15))
    }

    #[test]
    fn distinct_keys_leave_no_suspect() {
        let mut seen = SeenKeys::new();
        for n in 0..200_000 {
            seen.note(digest(n));
        }
        assert_eq!(seen.verdict(), Verdict::NoRepeats);
    }

    #[test]
    fn more_suspects_than_kept_means_every_key_is_compared() {
        let mut seen = SeenKeys::new();
        for _ in 0..=MAX_SUSPECTS + 1 {
            seen.note(digest(7));
        }
        assert_eq!(seen.verdict(), Verdict::Unknown);
    }

    proptest! {
        /// Never a false "no": every key staged twice is a suspect.
        #[test]
        fn a_repeated_key_is_always_a_suspect(
            keys in proptest::collection::vec(0u64..5_000, 1..400)
        ) {
            let mut seen = SeenKeys::new();
            let mut staged = std::collections::HashSet::new();
            let mut repeated = std::collections::HashSet::new();
            for &k in &keys {
                seen.note(digest(k));
                if !staged.insert(k) {
                    repeated.insert(digest(k));
                }
            }
            match seen.verdict() {
                Verdict::NoRepeats => prop_assert!(repeated.is_empty()),
                Verdict::Suspects(list) => {
                    for d in &repeated {
                        prop_assert!(list.contains(d));
                    }
                }
                Verdict::Unknown => prop_assert!(false, "a few hundred keys overflowed"),
            }
        }
    }
}
