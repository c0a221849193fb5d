//! Round trip, refusals, damage and drill on SQLite.

mod support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_round_trip() {
    support::suite::round_trip(support::suite::Place::Sqlite(tempfile::tempdir().unwrap())).await;
}
