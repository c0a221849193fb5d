//! A small deterministic pseudo-random generator.
//!
//! The data set and the statement mix must be identical across runs,
//! machines and dependency upgrades, so the generator is defined here
//! (SplitMix64) instead of borrowed from a crate whose streams may change.

/// SplitMix64: fast, 64-bit state, good enough statistics for load mixes.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator seeded with `seed`; equal seeds give equal streams.
    pub fn new(seed: u64) -> Self {
        Rng { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A float uniform in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// An integer uniform in `lo..=hi` (`lo <= hi`).
    pub fn range_i64(&mut self, lo: i64, hi: i64) -> i64 {
        let span = (hi as i128 - lo as i128 + 1) as u128;
        // Multiply-shift keeps the bias below 2^-64 per draw.
        let r = (u128::from(self.next_u64()) * span) >> 64;
        (lo as i128 + r as i128) as i64
    }

    /// An index uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_stay_inside_bounds() {
        let mut r = Rng::new(7);
        for _ in 0..10_000 {
            let v = r.range_i64(10, 80);
            assert!((10..=80).contains(&v));
            assert!(r.below(3) < 3);
            let f = r.next_f64();
            assert!((0.0..1.0).contains(&f));
        }
        assert_eq!(Rng::new(1).next_u64(), Rng::new(1).next_u64());
    }
}
