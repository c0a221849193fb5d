//! Round trip, refusals, damage and drill on PostgreSQL (COVET_PG_URL).

mod support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_round_trip() {
    let Some(server) = support::db::server_url("COVET_PG_URL") else {
        return;
    };
    support::suite::round_trip(support::suite::Place::Server(server)).await;
}
