//! The ORM's typed error.

/// What went wrong in an ORM call.
///
/// Messages name models, fields and lookups, never bound values.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OrmError {
    /// The database (or a layer) failed; see [`covet_core::ErrorKind`].
    #[error(transparent)]
    Db(#[from] covet_core::Error),
    /// `get` found no row.
    #[error("{model} matching the query does not exist")]
    DoesNotExist {
        /// The model's Rust name.
        model: &'static str,
    },
    /// `get` found more than one row.
    #[error("get() returned more than one {model}")]
    MultipleObjectsReturned {
        /// The model's Rust name.
        model: &'static str,
    },
    /// A dynamic lookup or ordering named a field the model does not have.
    #[error("{model} has no field {field:?}; its fields are: {valid}")]
    UnknownField {
        /// The model's Rust name.
        model: &'static str,
        /// The name given.
        field: String,
        /// The model's field names.
        valid: String,
    },
    /// A dynamic lookup used an operator that does not exist.
    #[error("unknown lookup {lookup:?} on {model}.{field}; valid lookups are: {valid}")]
    UnknownLookup {
        /// The model's Rust name.
        model: &'static str,
        /// The field.
        field: &'static str,
        /// The lookup given.
        lookup: String,
        /// The lookups that exist.
        valid: &'static str,
    },
    /// A dynamic lookup got a value of the wrong kind for its field or
    /// operator (the value itself is not shown).
    #[error("{model}.{field}__{lookup}: {problem}")]
    BadLookupValue {
        /// The model's Rust name.
        model: &'static str,
        /// The field.
        field: &'static str,
        /// The lookup.
        lookup: &'static str,
        /// What was wrong, without the value.
        problem: String,
    },
    /// A field that `only()` / `defer()` left out of the query was read.
    /// Nothing is fetched behind the caller's back: select the field.
    #[error(
        "{model}.{field} was deferred: the query's only()/defer() did not select it, \
         and reading it runs no query; add it to only() or drop it from defer()"
    )]
    Deferred {
        /// The model's Rust name.
        model: &'static str,
        /// The field that was not selected.
        field: &'static str,
    },
    /// The operation cannot be expressed for this model or query.
    #[error("{0}")]
    Unsupported(String),
}

/// The ORM's result type.
pub type OrmResult<T> = Result<T, OrmError>;
