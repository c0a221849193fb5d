//! Schema introspection results, shared by backup and the ORM.

/// The tables of a database (or schema), as an adapter's introspection sees
/// them. Names are as the server stores them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Schema {
    /// The tables, ordered by name.
    pub tables: Vec<Table>,
}

impl Schema {
    /// The table called `name`, if there is one.
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }
}

/// One table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Table {
    /// The table name.
    pub name: String,
    /// The columns, in ordinal order.
    pub columns: Vec<ColumnInfo>,
    /// The primary key's columns, in key order; empty when there is none.
    pub primary_key: Vec<String>,
    /// Secondary indexes (the primary key's own index is not listed).
    pub indexes: Vec<Index>,
    /// Foreign keys declared on this table.
    pub foreign_keys: Vec<ForeignKey>,
}

impl Table {
    /// The column called `name`, if there is one.
    pub fn column(&self, name: &str) -> Option<&ColumnInfo> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// One column of a table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ColumnInfo {
    /// The column name.
    pub name: String,
    /// The type as the server spells it in DDL (`character varying(100)`,
    /// `varchar(100)`, `INTEGER`).
    pub data_type: String,
    /// Whether NULL is allowed.
    pub nullable: bool,
    /// The default expression, as the server reports it.
    pub default: Option<String>,
    /// Whether values come from a sequence / AUTO_INCREMENT / ROWID alias.
    pub auto_increment: bool,
}

/// A secondary index.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Index {
    /// The index name.
    pub name: String,
    /// Indexed columns, in index order.
    pub columns: Vec<String>,
    /// Whether the index enforces uniqueness.
    pub unique: bool,
}

/// A foreign key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ForeignKey {
    /// The constraint name (may be empty on SQLite).
    pub name: String,
    /// Referencing columns, in order.
    pub columns: Vec<String>,
    /// The referenced table.
    pub referenced_table: String,
    /// Referenced columns, matching `columns` one to one.
    pub referenced_columns: Vec<String>,
}
