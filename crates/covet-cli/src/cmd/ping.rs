//! `covet ping`: connect, server version, round-trip time.

use std::time::{Duration, Instant};

use super::{DbArgs, Failure, connect, ms};

/// Arguments of `covet ping`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    db: DbArgs,
    /// Number of round trips to time.
    #[arg(long, short = 'n', default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    count: u32,
}

/// Runs `covet ping`.
pub(crate) async fn run(args: Args) -> Result<(), Failure> {
    let url = args.db.resolve()?;
    let (db, connect_time) = connect(&url).await?;
    let version = db.server_version().await?;
    let mut rtts: Vec<Duration> = Vec::with_capacity(args.count as usize);
    for _ in 0..args.count {
        let t = Instant::now();
        db.ping().await?;
        rtts.push(t.elapsed());
    }
    rtts.sort_unstable();
    println!(
        "connected to {} ({}) in {}",
        url,
        db.engine(),
        ms(connect_time)
    );
    println!("server version: {version}");
    println!(
        "round trip: min {}, median {}, max {} ({} pings)",
        ms(rtts[0]),
        ms(rtts[rtts.len() / 2]),
        ms(rtts[rtts.len() - 1]),
        rtts.len()
    );
    db.close().await;
    Ok(())
}
