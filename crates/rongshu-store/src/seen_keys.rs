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
//!
//! Suspects are mostly the filter's false "yes": ten million distinct keys
//! leave a few hundred, and confirming them in the database meant reading
//! every staged row (2.3 s of a ten-million-row load on PostgreSQL). So
//! every noted digest is also written, 16 bytes each, to a temporary file;
//! one pass over it, counting the suspects' digests alone, says which really
//! occur twice. Only those need the database; most often none does. The
//! pass holds a count per suspect, so its memory too is bounded by their cap.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, Write};

/// 512-bit blocks: one key's bits all lie in one block, one cache line.
type Block = [u64; 8];

/// Blocks in the filter: 2^28 bits, 32 MiB, of which a small file touches
/// only the pages it sets bits in. Ten million keys leave an expected
/// handful of suspects; at tens of millions they grow to thousands.
pub(crate) const BLOCKS: usize = 1 << 19;

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
    /// Every digest noted, in order; `None` once it could not be written
    /// (then suspects are confirmed in the database, as without it).
    spill: Option<BufWriter<File>>,
}

impl SeenKeys {
    #[cfg(test)]
    pub(crate) fn new() -> Self {
        Self::with_blocks(BLOCKS)
    }

    /// A filter of `blocks` blocks (at least one): fewer make more
    /// suspects, which tests use to see them handled.
    pub(crate) fn with_blocks(blocks: usize) -> Self {
        Self {
            // All zero: allocated untouched, so the pages come as used.
            blocks: vec![[0; 8]; blocks.max(1)],
            suspects: Vec::new(),
            overflowed: false,
            spill: tempfile::tempfile()
                .ok()
                .map(|file| BufWriter::with_capacity(1 << 16, file)),
        }
    }

    /// Note a staged row's key digest; returns whether the key is a
    /// suspect (it may have been noted before).
    pub(crate) fn note(&mut self, digest: u128) -> bool {
        if let Some(spill) = &mut self.spill
            && spill.write_all(&digest.to_le_bytes()).is_err()
        {
            self.spill = None;
        }
        let block_index = ((digest >> 64) as usize) % self.blocks.len();
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

    /// Write no more digests: the batch finds its repeats another way, and
    /// suspects are then confirmed in the database if asked.
    pub(crate) fn stop_spilling(&mut self) {
        self.spill = None;
    }

    /// Narrow the suspects to the keys the spilled digests show were noted
    /// more than once (none left: no repeats). Without a readable spill the
    /// suspects stay as they are, for the database to compare.
    pub(crate) fn confirm(&mut self) {
        if let Some(repeated) = self.confirmed_repeats() {
            self.suspects = repeated;
        }
    }

    /// Of the suspects, the digests noted more than once, from one pass
    /// over every digest noted; `None` when there are no suspects to
    /// confirm (see [`SeenKeys::verdict`]) or the digests could not be read
    /// back. Ends the noting: the spill is read and dropped.
    pub(crate) fn confirmed_repeats(&mut self) -> Option<Vec<u128>> {
        let Verdict::Suspects(suspects) = self.verdict() else {
            return None;
        };
        let mut counts: HashMap<u128, u32> = suspects.iter().map(|&d| (d, 0)).collect();
        let spill = self.spill.take()?;
        let mut file = spill.into_inner().ok()?;
        file.rewind().ok()?;
        let mut reader = BufReader::with_capacity(1 << 16, file);
        let mut digest = [0u8; 16];
        loop {
            match reader.read_exact(&mut digest) {
                Ok(()) => {
                    if let Some(count) = counts.get_mut(&u128::from_le_bytes(digest)) {
                        *count += 1;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                Err(_) => return None,
            }
        }
        let mut repeated: Vec<u128> = counts
            .into_iter()
            .filter(|&(_, count)| count > 1)
            .map(|(digest, _)| digest)
            .collect();
        repeated.sort_unstable();
        Some(repeated)
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

    #[test]
    fn suspects_confirmed_are_the_keys_noted_twice() {
        let mut seen = SeenKeys::new();
        for n in 0..10_000 {
            seen.note(digest(n));
        }
        for n in [17, 4_000, 17] {
            seen.note(digest(n));
        }
        let mut twice = vec![digest(17), digest(4_000)];
        twice.sort_unstable();
        assert_eq!(seen.confirmed_repeats(), Some(twice));
    }

    #[test]
    fn without_suspects_there_is_nothing_to_confirm() {
        let mut seen = SeenKeys::new();
        seen.note(digest(1));
        assert_eq!(seen.confirmed_repeats(), None);
    }

    proptest! {
        /// The pass over the noted digests finds exactly the repeated keys,
        /// false suspects (a filter made small enough to give many) left out.
        #[test]
        fn confirming_keeps_exactly_the_repeated_keys(
            keys in proptest::collection::vec(0u64..3_000, 1..2_000)
        ) {
            let mut seen = SeenKeys::new();
            // A filter of one block: nearly every key becomes a suspect.
            seen.blocks.truncate(1);
            let mut staged = std::collections::HashSet::new();
            let mut repeated = std::collections::BTreeSet::new();
            for &k in &keys {
                seen.note(digest(k));
                if !staged.insert(k) {
                    repeated.insert(digest(k));
                }
            }
            let expected: Vec<u128> = repeated.into_iter().collect();
            match seen.confirmed_repeats() {
                Some(found) => prop_assert_eq!(found, expected),
                None => prop_assert!(expected.is_empty()),
            }
        }

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
