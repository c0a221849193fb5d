//! `Db::with_reader`: QuerySet reads go to the reader, writes and
//! `using_primary()` reads to the main adapter; over a covet-router
//! `Router`, QuerySet reads are marked read-only and go to its replica
//! without a reader. Two SQLite databases stand in for a primary and a
//! replica, with different rows so each answer shows where it was read.

mod support;

use std::sync::Arc;

use covet_core::{Adapter, DatabaseUrl};
use covet_orm::ddl::create_table;
use covet_orm::{Db, ModelExt};
use support::Tag;

async fn sqlite(dir: &std::path::Path, name: &str, rows: &[&str]) -> Arc<dyn Adapter> {
    let url: DatabaseUrl = format!("sqlite://{}", dir.join(name).display())
        .parse()
        .unwrap();
    let a: Arc<dyn Adapter> = Arc::new(
        covet_adapter_sqlite::SqliteAdapter::connect(&url)
            .await
            .unwrap(),
    );
    create_table::<Tag, _>(&*a).await.unwrap();
    for r in rows {
        Tag {
            id: 0,
            name: (*r).into(),
        }
        .insert(&*a)
        .await
        .unwrap();
    }
    a
}

fn names(tags: Vec<Tag>) -> Vec<String> {
    tags.into_iter().map(|t| t.name).collect()
}

#[tokio::test]
async fn reads_go_to_the_reader_unless_using_primary() {
    let dir = tempfile::tempdir().unwrap();
    let primary = sqlite(dir.path(), "primary.db", &["on-primary"]).await;
    let replica = sqlite(dir.path(), "replica.db", &["on-replica"]).await;
    let db = Db::new(primary.clone()).await.unwrap().with_reader(replica);

    assert_eq!(
        names(Tag::objects().all(&db).await.unwrap()),
        ["on-replica"]
    );
    assert_eq!(
        names(Tag::objects().using_primary().all(&db).await.unwrap()),
        ["on-primary"]
    );
    assert_eq!(Tag::objects().count(&db).await.unwrap(), 1);

    // A write goes to the primary; only using_primary() sees it at once.
    Tag {
        id: 0,
        name: "written".into(),
    }
    .insert(&db)
    .await
    .unwrap();
    assert_eq!(Tag::objects().count(&db).await.unwrap(), 1);
    assert_eq!(Tag::objects().using_primary().count(&db).await.unwrap(), 2);
    assert!(
        Tag::objects()
            .using_primary()
            .filter(Tag::NAME.eq("written"))
            .exists(&db)
            .await
            .unwrap()
    );

    // Without a reader every read is on the one adapter.
    let plain = Db::new(primary).await.unwrap();
    assert_eq!(Tag::objects().count(&plain).await.unwrap(), 2);
}

/// A `Db` over a router needs no reader: QuerySet reads carry the
/// read-only mark, so the router sends them to a replica, and
/// `using_primary()` reads and writes stay on the primary.
#[tokio::test]
async fn over_a_router_queryset_reads_go_to_a_replica() {
    let dir = tempfile::tempdir().unwrap();
    let primary = sqlite(dir.path(), "primary.db", &["on-primary"]).await;
    let replica = sqlite(dir.path(), "replica.db", &["on-replica"]).await;
    let router = covet_router::Router::builder()
        .primary("primary", primary)
        .replica("replica", replica, 1)
        .without_health_checks()
        .build()
        .unwrap();
    let db = Db::new(Arc::new(router)).await.unwrap();

    assert_eq!(
        names(Tag::objects().all(&db).await.unwrap()),
        ["on-replica"]
    );
    assert_eq!(Tag::objects().count(&db).await.unwrap(), 1);
    assert_eq!(
        names(Tag::objects().using_primary().all(&db).await.unwrap()),
        ["on-primary"]
    );
    Tag {
        id: 0,
        name: "written".into(),
    }
    .insert(&db)
    .await
    .unwrap();
    assert_eq!(Tag::objects().using_primary().count(&db).await.unwrap(), 2);
    assert_eq!(Tag::objects().count(&db).await.unwrap(), 1);
}
