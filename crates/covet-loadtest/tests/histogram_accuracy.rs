//! Histogram figures against a brute-force sort of the same samples.

use std::time::Duration;

use covet_loadtest::{LatencyHistogram, Rng};

fn brute(sorted: &[u64], q: f64) -> u64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[test]
fn percentiles_match_a_sorted_copy_within_the_histogram_precision() {
    let mut rng = Rng::new(99);
    let mut samples = Vec::with_capacity(200_000);
    let mut h = LatencyHistogram::default();
    for i in 0..200_000 {
        // A long-tailed mix: mostly ~0.3-3 ms, some 10-500 ms, a few seconds.
        let base = 300_000.0 * (1.0 + 9.0 * rng.next_f64());
        let ns = match i % 100 {
            0..=94 => base,
            95..=98 => base * (30.0 + 150.0 * rng.next_f64()),
            _ => base * 1_000.0 * rng.next_f64().max(0.001),
        } as u64;
        samples.push(ns);
        h.record(Duration::from_nanos(ns));
    }
    samples.sort_unstable();
    assert_eq!(h.count(), samples.len() as u64);
    for q in [0.5, 0.66, 0.9, 0.95, 0.99, 0.999, 0.9999] {
        let want = brute(&samples, q) as f64;
        let got = h.quantile(q).as_nanos() as f64;
        let err = (got - want).abs() / want;
        assert!(
            err <= 0.001,
            "q={q}: histogram {got} vs sorted {want} ({err:.5})"
        );
    }
    let max = *samples.last().unwrap() as f64;
    assert!((h.max().as_nanos() as f64 - max).abs() / max <= 0.001);
    let min = samples[0] as f64;
    assert!((h.min().as_nanos() as f64 - min).abs() / min <= 0.001);
    let mean = samples.iter().map(|&s| s as f64).sum::<f64>() / samples.len() as f64;
    assert!((h.mean().as_nanos() as f64 - mean).abs() / mean <= 0.001);
    let p = h.percentiles();
    assert_eq!(p.count, 200_000);
    assert!((p.p99_ms - h.quantile(0.99).as_secs_f64() * 1e3).abs() < 1e-9);
}
