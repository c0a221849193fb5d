//! Over 100,000 draws each statement's share is within 1% of its weight.

use covet_core::Dialect;
use covet_loadtest::{StatementSpec, Workload, seed_mix};

fn shares(mut w: Workload, draws: usize) -> Vec<f64> {
    let mut counts = vec![0usize; w.names().len()];
    for _ in 0..draws {
        counts[w.pick()] += 1;
    }
    counts.iter().map(|&c| c as f64 / draws as f64).collect()
}

#[test]
fn seed_mix_shares_follow_the_weights() {
    for seed in [1, 2, 3] {
        let w = Workload::new("seed", seed_mix(1.0), Dialect::POSTGRES, seed).unwrap();
        let got = shares(w, 100_000);
        for (g, want) in got.iter().zip([0.80, 0.15, 0.05]) {
            assert!((g - want).abs() < 0.01, "seed {seed}: {g} vs {want}");
        }
    }
}

#[test]
fn uneven_custom_weights_follow_too() {
    let weights = [50.0, 25.0, 12.5, 10.0, 2.5];
    let specs = weights
        .iter()
        .enumerate()
        .map(|(i, w)| StatementSpec::new(format!("s{i}"), "SELECT 1", *w))
        .collect();
    let w = Workload::new("custom", specs, Dialect::MYSQL, 7).unwrap();
    let total: f64 = weights.iter().sum();
    for (g, want) in shares(w, 100_000).iter().zip(weights.map(|w| w / total)) {
        assert!((g - want).abs() < 0.01, "{g} vs {want}");
        // Tighter than the requirement: within 5% of the weight itself.
        assert!((g - want).abs() / want < 0.05, "{g} vs {want}");
    }
}
