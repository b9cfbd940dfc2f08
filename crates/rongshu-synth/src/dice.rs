//! Seeded randomness: every stream of the synthetic city is a ChaCha generator derived
//! from the run's seed and a stream name, so the same seed gives the same bytes.

use rand::rngs::ChaCha8Rng;
use rand::{Rng, SeedableRng};

/// A deterministic random source with the few draws the generator needs. The draws never
/// panic: an empty range yields its lower end.
pub(crate) struct Dice {
    rng: ChaCha8Rng,
}

/// Names a stream; each part of the city draws from its own so that adding a draw in one
/// part does not shift the values of another.
#[derive(Clone, Copy)]
pub(crate) enum Stream {
    People,
    Entity,
    Department(u64),
    Faults(u64),
    OldAddress,
}

impl Stream {
    fn tag(self) -> u64 {
        match self {
            Stream::People => 1,
            Stream::Entity => 2,
            Stream::OldAddress => 3,
            Stream::Department(d) => 0x100 + d,
            Stream::Faults(d) => 0x200 + d,
        }
    }
}

impl Dice {
    /// The sequential stream `stream` of the run seeded with `seed`.
    pub(crate) fn new(seed: u64, stream: Stream) -> Self {
        Self::indexed(seed, stream, 0)
    }

    /// Substream `index` of `stream`: used where a value must be recomputed on demand
    /// (an entity looked up as an employer) rather than drawn in order.
    pub(crate) fn indexed(seed: u64, stream: Stream, index: u64) -> Self {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        key[8..16].copy_from_slice(&stream.tag().to_le_bytes());
        key[16..24].copy_from_slice(b"rongshu!");
        let mut rng = ChaCha8Rng::from_seed(key);
        rng.set_stream(index);
        Self { rng }
    }

    /// A uniform value in `0..n` (0 when `n` is 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        // Multiply-shift keeps the bias below 2^-64 per draw, far under anything visible.
        ((u128::from(self.rng.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A uniform index into a slice of length `n`.
    pub(crate) fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// A uniform value in `lo..=hi` (`lo` when the range is empty).
    pub(crate) fn between(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below((hi - lo) as u64 + 1) as i64
    }

    /// A uniform value in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.unit() < p
    }

    /// One element of a non-empty slice, or `None` for an empty one.
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.index(items.len()))
    }
}

/// A table of weights prepared for drawing an index in proportion to its weight.
pub(crate) struct Weighted {
    cumulative: Vec<u64>,
}

impl Weighted {
    pub(crate) fn new(weights: impl IntoIterator<Item = u64>) -> Self {
        let mut total = 0u64;
        let cumulative = weights
            .into_iter()
            .map(|w| {
                total += w;
                total
            })
            .collect();
        Self { cumulative }
    }

    /// An index drawn by weight; 0 for an empty or all-zero table.
    pub(crate) fn draw(&self, dice: &mut Dice) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0);
        let x = dice.below(total);
        self.cumulative
            .partition_point(|&c| c <= x)
            .min(self.cumulative.len().saturating_sub(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_draws() {
        let mut a = Dice::new(7, Stream::People);
        let mut b = Dice::new(7, Stream::People);
        let mut c = Dice::new(8, Stream::People);
        let xs: Vec<u64> = (0..8).map(|_| a.below(1000)).collect();
        let ys: Vec<u64> = (0..8).map(|_| b.below(1000)).collect();
        let zs: Vec<u64> = (0..8).map(|_| c.below(1000)).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
    }

    #[test]
    fn weighted_respects_zero_weights() {
        let table = Weighted::new([0, 5, 0, 5]);
        let mut dice = Dice::new(1, Stream::People);
        for _ in 0..200 {
            let i = table.draw(&mut dice);
            assert!(i == 1 || i == 3);
        }
    }
}
