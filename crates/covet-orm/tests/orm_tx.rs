//! The transaction closure API on every engine: commit on Ok, rollback on
//! Err and on panic, savepoints rolled back alone.

mod support;

use covet_orm::ddl::{create_table, drop_table};
use covet_orm::{ModelExt, OrmError, savepoint, transaction};
use support::Tag;

fn tag(name: &str) -> Tag {
    Tag {
        id: 0,
        name: name.into(),
    }
}

async fn names(a: &dyn covet_core::Adapter) -> Vec<String> {
    Tag::objects()
        .order_by(Tag::NAME)
        .all(a)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect()
}

/// Panics where the type checker expects a result, like a bug deep inside
/// application code would.
fn boom() -> Result<(), OrmError> {
    panic!("boom inside a transaction")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closures_commit_roll_back_and_nest() {
    for e in support::engines().await {
        let name = e.name;
        let a = &*e.adapter;
        drop_table::<Tag, _>(a).await.unwrap();
        create_table::<Tag, _>(a).await.unwrap();

        // Ok commits and returns the closure's value.
        let id = transaction(a, |tx| {
            Box::pin(async move {
                let mut t = tag("committed");
                t.insert(&mut *tx).await?;
                Ok(t.id)
            })
        })
        .await
        .unwrap();
        assert!(id > 0, "{name}");

        // Err rolls back and is returned as it was.
        let r: Result<(), OrmError> = transaction(a, |tx| {
            Box::pin(async move {
                tag("rolled back").insert(&mut *tx).await?;
                Err(OrmError::Unsupported("no".into()))
            })
        })
        .await;
        assert!(
            matches!(r, Err(OrmError::Unsupported(m)) if m == "no"),
            "{name}"
        );

        // A database error inside rolls back the earlier writes too.
        let r = transaction(a, |tx| {
            Box::pin(async move {
                tag("before the error").insert(&mut *tx).await?;
                tag("committed").insert(&mut *tx).await?; // unique violation
                Ok(())
            })
        })
        .await;
        assert!(
            matches!(&r, Err(OrmError::Db(d)) if d.kind() == covet_core::ErrorKind::UniqueViolation),
            "{name}: {r:?}"
        );

        // A panic rolls back, then goes on unwinding.
        let shared = e.adapter.clone();
        let joined = tokio::spawn(async move {
            transaction(&*shared, |tx| {
                Box::pin(async move {
                    tag("panicked").insert(&mut *tx).await?;
                    boom()
                })
            })
            .await
        })
        .await;
        assert!(joined.is_err_and(|j| j.is_panic()), "{name}");

        // Savepoints: the inner failure is undone, the outer work kept.
        transaction(a, |tx| {
            Box::pin(async move {
                tag("outer").insert(&mut *tx).await?;
                let inner: Result<(), OrmError> = savepoint(&mut *tx, |sp| {
                    Box::pin(async move {
                        tag("inner failed").insert(&mut *sp).await?;
                        Err(OrmError::Unsupported("inner".into()))
                    })
                })
                .await;
                assert!(inner.is_err());
                savepoint(&mut *tx, |sp| {
                    Box::pin(async move {
                        tag("inner kept").insert(&mut *sp).await?;
                        Ok(())
                    })
                })
                .await?;
                Ok(())
            })
        })
        .await
        .unwrap();

        assert_eq!(
            names(a).await,
            ["committed", "inner kept", "outer"],
            "{name}"
        );
        drop_table::<Tag, _>(a).await.unwrap();
        e.teardown().await;
        eprintln!("{name}: transactions ok");
    }
}
