//! Differences between two introspected schemas, in words, for `verify`.

use covet_core::{Schema, Table};

/// What differs from `before` to `after`, one entry per difference
/// (empty when the schemas are the same). Tables named in `ignore` (the
/// migrations table) are left out. Column order is not compared: a down
/// that drops a column and adds it back cannot restore its position on
/// PostgreSQL, and nothing that names its columns notices.
pub fn schema_diff(before: &Schema, after: &Schema, ignore: &[&str]) -> Vec<String> {
    let keep = |t: &&Table| !ignore.iter().any(|i| t.name.eq_ignore_ascii_case(i));
    let mut out = Vec::new();
    for b in before.tables.iter().filter(keep) {
        match after.table(&b.name) {
            None => out.push(format!("table {} is missing", b.name)),
            Some(a) => table_diff(b, a, &mut out),
        }
    }
    for a in after.tables.iter().filter(keep) {
        if before.table(&a.name).is_none() {
            out.push(format!("table {} is left over", a.name));
        }
    }
    out
}

fn table_diff(b: &Table, a: &Table, out: &mut Vec<String>) {
    let t = &b.name;
    for bc in &b.columns {
        match a.column(&bc.name) {
            None => out.push(format!("column {t}.{} is missing", bc.name)),
            Some(ac) if ac != bc => out.push(format!(
                "column {t}.{} was {} {}{} and is now {} {}{}",
                bc.name,
                bc.data_type,
                if bc.nullable { "NULL" } else { "NOT NULL" },
                bc.default
                    .as_deref()
                    .map(|d| format!(" DEFAULT {d}"))
                    .unwrap_or_default(),
                ac.data_type,
                if ac.nullable { "NULL" } else { "NOT NULL" },
                ac.default
                    .as_deref()
                    .map(|d| format!(" DEFAULT {d}"))
                    .unwrap_or_default(),
            )),
            Some(_) => {}
        }
    }
    for ac in &a.columns {
        if b.column(&ac.name).is_none() {
            out.push(format!("column {t}.{} is left over", ac.name));
        }
    }
    if b.primary_key != a.primary_key {
        out.push(format!(
            "primary key of {t} was ({}) and is now ({})",
            b.primary_key.join(", "),
            a.primary_key.join(", ")
        ));
    }
    for bi in &b.indexes {
        match a.indexes.iter().find(|i| i.name == bi.name) {
            None => out.push(format!("index {} on {t} is missing", bi.name)),
            Some(ai) if ai != bi => out.push(format!("index {} on {t} changed", bi.name)),
            Some(_) => {}
        }
    }
    for ai in &a.indexes {
        if !b.indexes.iter().any(|i| i.name == ai.name) {
            out.push(format!("index {} on {t} is left over", ai.name));
        }
    }
    let fk = |f: &covet_core::ForeignKey| {
        format!(
            "({}) -> {}({})",
            f.columns.join(", "),
            f.referenced_table,
            f.referenced_columns.join(", ")
        )
    };
    let bf: Vec<String> = b.foreign_keys.iter().map(fk).collect();
    let af: Vec<String> = a.foreign_keys.iter().map(fk).collect();
    for f in &bf {
        if !af.contains(f) {
            out.push(format!("foreign key {t}{f} is missing"));
        }
    }
    for f in &af {
        if !bf.contains(f) {
            out.push(format!("foreign key {t}{f} is left over"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use covet_core::{ColumnInfo, Index};

    fn col(name: &str, ty: &str) -> ColumnInfo {
        ColumnInfo {
            name: name.into(),
            data_type: ty.into(),
            nullable: true,
            ..ColumnInfo::default()
        }
    }

    #[test]
    fn names_each_difference() {
        let t = Table {
            name: "t".into(),
            columns: vec![col("a", "int"), col("b", "text")],
            primary_key: vec!["a".into()],
            indexes: vec![Index {
                name: "t_b".into(),
                columns: vec!["b".into()],
                unique: false,
            }],
            foreign_keys: vec![],
        };
        let before = Schema {
            tables: vec![t.clone()],
        };
        assert!(schema_diff(&before, &before, &[]).is_empty());
        let mut t2 = t.clone();
        t2.columns.push(col("c", "int"));
        t2.columns[1].data_type = "varchar(10)".into();
        t2.indexes.clear();
        let after = Schema {
            tables: vec![
                t2,
                Table {
                    name: "covet_migrations".into(),
                    ..Table::default()
                },
            ],
        };
        let d = schema_diff(&before, &after, &["covet_migrations"]);
        assert_eq!(d.len(), 3, "{d:?}");
        assert!(d.iter().any(|x| x.contains("t.c is left over")));
        assert!(
            d.iter()
                .any(|x| x.contains("was text NULL and is now varchar(10)"))
        );
        assert!(d.iter().any(|x| x.contains("index t_b on t is missing")));
    }
}
