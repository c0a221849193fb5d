//! `embed_migrations!` embeds what `Migrations::from_dir` reads, and a
//! start-up migration from the embedded set works; no password reaches an
//! error or a Debug string.

use covet_core::DatabaseUrl;
use covet_migrate::{Migrations, Migrator, embed_migrations};
use proptest::prelude::*;

#[test]
fn embedded_equals_read_from_the_directory() {
    let embedded = embed_migrations!("tests/fixtures/migrations").unwrap();
    let dir = Migrations::from_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/migrations"
    ))
    .unwrap();
    assert_eq!(embedded, dir);
    assert_eq!(embedded.len(), 2);
    assert!(embedded.get(2).unwrap().is_irreversible());
}

#[tokio::test]
async fn migrates_at_start_up_from_the_embedded_set() {
    let tmp = tempfile::tempdir().unwrap();
    let url =
        DatabaseUrl::parse(&format!("sqlite://{}", tmp.path().join("a.db").display())).unwrap();
    let m = Migrator::new(url, embed_migrations!("tests/fixtures/migrations").unwrap());
    assert_eq!(m.up().await.unwrap().applied, [1, 2]);
    assert!(m.up().await.unwrap().applied.is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// A server that cannot be reached: the error names it, never the
    /// password; nor does the runner's Debug.
    #[test]
    fn no_password_in_errors_or_debug(
        pw in "[A-Za-z0-9!*_~-]{6,20}",
        scheme in prop::sample::select(vec!["postgres", "mysql"]),
    ) {
        let url = DatabaseUrl::parse(&format!("{scheme}://app:{pw}@127.0.0.1:1/db")).unwrap();
        let m = Migrator::new(url, Migrations::default());
        let debug = format!("{:?}", m);
        prop_assert!(!debug.contains(&pw));
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let e = rt.block_on(m.status()).unwrap_err();
        prop_assert!(!e.to_string().contains(&pw), "{}", e);
        let debug = format!("{:?}", e);
        prop_assert!(!debug.contains(&pw));
        let e = rt.block_on(m.up()).unwrap_err();
        prop_assert!(!e.to_string().contains(&pw), "{}", e);
    }
}
