//! Runs the standard-workload example (examples/workload.rs) so CI checks
//! that it works, not only that it compiles.

#[allow(dead_code, unreachable_pub)] // unreachable_pub: to be narrowed with the ORM work
#[path = "../examples/workload.rs"]
mod workload;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workload_example_runs() {
    let s = workload::run(40).await.unwrap();
    // Ages 10..=49: 32 adults; user n has n mod 4 posts: 10 * (0+1+2+3) = 60; the last, user 39, has 3 posts with 2 comments each.
    assert_eq!(
        s,
        workload::Summary {
            adults: 32,
            posts_with_authors: 60,
            comments_of_last_user: 6,
            tags_of_posts: 180,
        }
    );
}
