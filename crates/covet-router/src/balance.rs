//! Choosing a replica: least outstanding requests between two weighted
//! random choices.
//!
//! Two candidates are drawn without replacement, each with probability
//! proportional to its weight; the one with fewer requests in flight per
//! unit of weight wins, and a tie goes to the first drawn. When the router
//! is idle every load is zero, so the first draw decides and reads split in
//! proportion to the weights; under load a slow replica accumulates
//! requests in flight and loses most comparisons, without the herd effect
//! of always picking the global minimum from stale counts.

use rand::Rng;

/// What the balancer needs to know of a candidate.
pub(crate) trait Load {
    /// Requests in flight.
    fn outstanding(&self) -> usize;
    /// Relative share of the reads (at least 1).
    fn weight(&self) -> u32;
}

/// Draws one index of `items` with probability proportional to weight,
/// skipping `skip`.
fn weighted_draw<T: Load>(items: &[T], skip: Option<usize>, rng: &mut impl Rng) -> usize {
    let total: u64 = items
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != skip)
        .map(|(_, t)| u64::from(t.weight().max(1)))
        .sum();
    let mut x = rng.random_range(0..total);
    for (i, t) in items.iter().enumerate() {
        if Some(i) == skip {
            continue;
        }
        let w = u64::from(t.weight().max(1));
        if x < w {
            return i;
        }
        x -= w;
    }
    // Unreachable with total > 0; the last non-skipped item is a safe answer.
    items.len() - 1 - usize::from(skip == Some(items.len() - 1))
}

/// Picks one of `items` (None when empty).
pub(crate) fn pick<T: Load>(items: &[T], rng: &mut impl Rng) -> Option<usize> {
    match items.len() {
        0 => None,
        1 => Some(0),
        _ => {
            let a = weighted_draw(items, None, rng);
            let b = weighted_draw(items, Some(a), rng);
            // outstanding_a / weight_a against outstanding_b / weight_b,
            // cross-multiplied to stay in integers.
            let ca = items[a].outstanding() as u128 * u128::from(items[b].weight().max(1));
            let cb = items[b].outstanding() as u128 * u128::from(items[a].weight().max(1));
            Some(if cb < ca { b } else { a })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    struct C(usize, u32);
    impl Load for &C {
        fn outstanding(&self) -> usize {
            self.0
        }
        fn weight(&self) -> u32 {
            self.1
        }
    }

    fn counts(items: &[C], n: usize) -> Vec<usize> {
        let mut rng = StdRng::seed_from_u64(7);
        let refs: Vec<&C> = items.iter().collect();
        let mut out = vec![0; items.len()];
        for _ in 0..n {
            out[pick(&refs, &mut rng).unwrap()] += 1;
        }
        out
    }

    #[test]
    fn idle_reads_split_by_weight() {
        let c = counts(&[C(0, 1), C(0, 1), C(0, 2)], 40_000);
        // Expected 10k, 10k, 20k.
        assert!((9_000..11_000).contains(&c[0]), "{c:?}");
        assert!((9_000..11_000).contains(&c[1]), "{c:?}");
        assert!((18_500..21_500).contains(&c[2]), "{c:?}");
    }

    #[test]
    fn a_busy_replica_loses_comparisons() {
        // Replica 0 has 10 requests in flight: it is chosen only when drawn
        // against... nobody; with three candidates it never wins.
        let c = counts(&[C(10, 1), C(0, 1), C(0, 1)], 10_000);
        assert_eq!(c[0], 0, "{c:?}");
        // With two candidates the other one always wins.
        let c = counts(&[C(3, 1), C(1, 1)], 1_000);
        assert_eq!(c, vec![0, 1_000]);
        // Weight scales the load: 4 in flight on weight 4 equals 1 on weight 1.
        let c = counts(&[C(4, 4), C(2, 1)], 1_000);
        assert_eq!(c, vec![1_000, 0]);
    }

    #[test]
    fn empty_and_single() {
        let mut rng = StdRng::seed_from_u64(1);
        let none: Vec<&C> = Vec::new();
        assert_eq!(pick(&none, &mut rng), None);
        let one = C(100, 1);
        assert_eq!(pick(&[&one], &mut rng), Some(0));
    }
}
