//! Round trip, refusals, damage and drill on MySQL / MariaDB
//! (COVET_MYSQL_URL).

mod support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_round_trip() {
    let Some(server) = support::db::server_url("COVET_MYSQL_URL") else {
        return;
    };
    support::suite::round_trip(support::suite::Place::Server(server)).await;
}
