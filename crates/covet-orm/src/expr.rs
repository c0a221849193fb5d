//! Typed filter expressions: [`Column`] constants, the [`Expr`] trees they
//! build, and [`Order`]s.
//!
//! A comparison takes a right-hand side through [`IntoOperand<M, T>`], which
//! is implemented only for values of the column's own Rust type (plus `&str`
//! for text, a bare `T` for an `Option<T>` column, and other columns of the
//! same type), so `User::AGE.eq("x")` does not compile. Values become
//! parameters; the tree holds only `&'static str` column names from the
//! model's metadata, never text a caller typed at run time.

use std::marker::PhantomData;
use std::ops::Not;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use covet_core::{Decimal, Json, Value};
use uuid::Uuid;

use crate::model::Model;

/// A typed column of model `M` whose Rust type is `T`; generated as
/// associated constants (`User::AGE`).
pub struct Column<M, T> {
    index: usize,
    name: &'static str,
    _t: PhantomData<fn() -> (M, T)>,
}

impl<M, T> Clone for Column<M, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M, T> Copy for Column<M, T> {}

impl<M, T> std::fmt::Debug for Column<M, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Column({})", self.name)
    }
}

/// A column of model `M` with its Rust type erased, for lists of columns of
/// different types (conflict targets of [`crate::ModelExt::upsert`]).
/// Every `Column<M, T>` converts into one with `.into()`.
pub struct AnyColumn<M> {
    pub(crate) index: usize,
    pub(crate) name: &'static str,
    _m: PhantomData<fn() -> M>,
}

impl<M> Clone for AnyColumn<M> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M> Copy for AnyColumn<M> {}

impl<M> std::fmt::Debug for AnyColumn<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AnyColumn({})", self.name)
    }
}

impl<M, T> From<Column<M, T>> for AnyColumn<M> {
    fn from(c: Column<M, T>) -> Self {
        AnyColumn {
            index: c.index,
            name: c.name,
            _m: PhantomData,
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Lte,
    /// `>`
    Gt,
    /// `>=`
    Gte,
}

impl CmpOp {
    pub(crate) fn sql(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Lte => "<=",
            CmpOp::Gt => ">",
            CmpOp::Gte => ">=",
        }
    }
}

/// The right-hand side of a comparison: a parameter or another column.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Operand {
    /// A bound parameter.
    Value(Value),
    /// A column of the same table (by its SQL name from the metadata).
    Column(&'static str),
    /// Arithmetic on two operands (`"age" + $1`).
    Arith(Box<Operand>, ArithOp, Box<Operand>),
}

/// An arithmetic operator of [`Arith`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
}

impl ArithOp {
    pub(crate) fn sql(self) -> &'static str {
        match self {
            ArithOp::Add => " + ",
            ArithOp::Sub => " - ",
            ArithOp::Mul => " * ",
        }
    }
}

/// Numeric column types, which have [`Column::plus`] and friends.
pub trait Numeric {}

macro_rules! numeric {
    ($($t:ty),*) => {$( impl Numeric for $t {} impl Numeric for Option<$t> {} )*};
}
numeric!(i16, i32, i64, f32, f64, Decimal);

/// Column arithmetic of type `T` on model `M`, like Django's `F("age") + 1`:
/// usable wherever a value of the column's type is (filters, `set`).
pub struct Arith<M, T> {
    op: Operand,
    _t: PhantomData<fn() -> (M, T)>,
}

impl<M, T> std::fmt::Debug for Arith<M, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Arith(..)")
    }
}

impl<M, T> IntoOperand<M, T> for Arith<M, T> {
    fn into_operand(self) -> Operand {
        self.op
    }
}

fn arith<M, T>(lhs: Operand, op: ArithOp, rhs: Operand) -> Arith<M, T> {
    Arith {
        op: Operand::Arith(Box::new(lhs), op, Box::new(rhs)),
        _t: PhantomData,
    }
}

impl<M, T: Numeric> Arith<M, T> {
    /// `(self + rhs)`
    pub fn plus(self, rhs: impl IntoOperand<M, T>) -> Arith<M, T> {
        arith(self.op, ArithOp::Add, rhs.into_operand())
    }
    /// `(self - rhs)`
    pub fn minus(self, rhs: impl IntoOperand<M, T>) -> Arith<M, T> {
        arith(self.op, ArithOp::Sub, rhs.into_operand())
    }
    /// `(self * rhs)`
    pub fn times(self, rhs: impl IntoOperand<M, T>) -> Arith<M, T> {
        arith(self.op, ArithOp::Mul, rhs.into_operand())
    }
}

impl<M, T: Numeric> Column<M, T> {
    /// `(column + rhs)`, for filters and updates (`User::AGE.set(User::AGE.plus(1))`).
    pub fn plus(self, rhs: impl IntoOperand<M, T>) -> Arith<M, T> {
        arith(Operand::Column(self.name), ArithOp::Add, rhs.into_operand())
    }
    /// `(column - rhs)`
    pub fn minus(self, rhs: impl IntoOperand<M, T>) -> Arith<M, T> {
        arith(Operand::Column(self.name), ArithOp::Sub, rhs.into_operand())
    }
    /// `(column * rhs)`
    pub fn times(self, rhs: impl IntoOperand<M, T>) -> Arith<M, T> {
        arith(Operand::Column(self.name), ArithOp::Mul, rhs.into_operand())
    }
}

/// Text pattern matches, each rendered per dialect so that the case rules
/// are the same on every engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextMatch {
    /// Case-sensitive substring.
    Contains,
    /// Case-sensitive prefix.
    StartsWith,
    /// Case-sensitive suffix.
    EndsWith,
    /// Case-insensitive equality.
    IExact,
    /// Case-insensitive substring.
    IContains,
}

/// An untyped filter tree; [`Expr`] wraps it with the model's type.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Node {
    /// `col op rhs`
    Cmp(&'static str, CmpOp, Operand),
    /// `col IN (...)`; an empty list is false.
    In(&'static str, Vec<Value>),
    /// `col BETWEEN lo AND hi`
    Between(&'static str, Operand, Operand),
    /// `col LIKE pattern`, the pattern as given (the engine's own case rules).
    Like(&'static str, Value),
    /// A portable text match on a literal string (wildcards escaped).
    Text(&'static str, TextMatch, String),
    /// `col IS NULL` (`true`) or `col IS NOT NULL` (`false`).
    IsNull(&'static str, bool),
    /// All of these.
    And(Vec<Node>),
    /// Any of these.
    Or(Vec<Node>),
    /// `col IN (SELECT key FROM table WHERE filter)`: a lookup across a
    /// `belongs_to` relation (column, target table, target key, filter on
    /// the target).
    InSelect(&'static str, &'static str, &'static str, Box<Node>),
    /// The negation.
    Not(Box<Node>),
}

/// A filter on model `M`: built from its columns, combined with
/// [`Expr::and`], [`Expr::or`] and `!`.
pub struct Expr<M> {
    pub(crate) node: Node,
    _m: PhantomData<fn() -> M>,
}

impl<M> Clone for Expr<M> {
    fn clone(&self) -> Self {
        Expr::new(self.node.clone())
    }
}

impl<M> std::fmt::Debug for Expr<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values are redacted like Statement parameters.
        write!(f, "Expr({})", crate::sql::describe(&self.node))
    }
}

impl<M> Expr<M> {
    pub(crate) fn new(node: Node) -> Self {
        Expr {
            node,
            _m: PhantomData,
        }
    }

    /// The untyped tree.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// Both this and `other`.
    #[must_use]
    pub fn and(self, other: Expr<M>) -> Expr<M> {
        let node = match (self.node, other.node) {
            (Node::And(mut a), Node::And(b)) => {
                a.extend(b);
                Node::And(a)
            }
            (Node::And(mut a), b) => {
                a.push(b);
                Node::And(a)
            }
            (a, b) => Node::And(vec![a, b]),
        };
        Expr::new(node)
    }

    /// Either this or `other`.
    #[must_use]
    pub fn or(self, other: Expr<M>) -> Expr<M> {
        let node = match (self.node, other.node) {
            (Node::Or(mut a), Node::Or(b)) => {
                a.extend(b);
                Node::Or(a)
            }
            (Node::Or(mut a), b) => {
                a.push(b);
                Node::Or(a)
            }
            (a, b) => Node::Or(vec![a, b]),
        };
        Expr::new(node)
    }
}

impl<M> Not for Expr<M> {
    type Output = Expr<M>;
    fn not(self) -> Expr<M> {
        match self.node {
            Node::Not(inner) => Expr::new(*inner),
            n => Expr::new(Node::Not(Box::new(n))),
        }
    }
}

/// Something that can stand on the right of a comparison with a column of
/// model `M` and Rust type `T`.
pub trait IntoOperand<M, T> {
    /// The operand.
    fn into_operand(self) -> Operand;
}

/// Rust types that bind as a parameter of exactly their own column type.
pub trait SqlValue: Into<Value> {}

macro_rules! sql_values {
    ($($t:ty),* $(,)?) => {$(
        impl SqlValue for $t {}
        impl<M> IntoOperand<M, Option<$t>> for $t {
            fn into_operand(self) -> Operand { Operand::Value(self.into()) }
        }
    )*};
}

sql_values!(
    bool,
    i16,
    i32,
    i64,
    f32,
    f64,
    String,
    Vec<u8>,
    Decimal,
    Json,
    NaiveDate,
    NaiveTime,
    NaiveDateTime,
    DateTime<Utc>,
    Uuid,
);

impl<T: SqlValue> SqlValue for Option<T> {}

impl<M, T: SqlValue> IntoOperand<M, T> for T {
    fn into_operand(self) -> Operand {
        Operand::Value(self.into())
    }
}

impl<M> IntoOperand<M, String> for &str {
    fn into_operand(self) -> Operand {
        Operand::Value(self.into())
    }
}

impl<M> IntoOperand<M, Option<String>> for &str {
    fn into_operand(self) -> Operand {
        Operand::Value(self.into())
    }
}

impl<M> IntoOperand<M, Vec<u8>> for &[u8] {
    fn into_operand(self) -> Operand {
        Operand::Value(self.into())
    }
}

impl<M, T> IntoOperand<M, T> for Column<M, T> {
    fn into_operand(self) -> Operand {
        Operand::Column(self.name)
    }
}

impl<M, T> Column<M, T> {
    /// A column constant; `#[derive(Model)]` writes these.
    pub const fn new(index: usize, name: &'static str) -> Self {
        Column {
            index,
            name,
            _t: PhantomData,
        }
    }

    /// The SQL column name.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The position of the column in the model's metadata.
    pub const fn index(&self) -> usize {
        self.index
    }

    fn cmp(self, op: CmpOp, rhs: impl IntoOperand<M, T>) -> Expr<M> {
        Expr::new(Node::Cmp(self.name, op, rhs.into_operand()))
    }

    /// `column = rhs`
    pub fn eq(self, rhs: impl IntoOperand<M, T>) -> Expr<M> {
        self.cmp(CmpOp::Eq, rhs)
    }
    /// `column <> rhs`
    pub fn ne(self, rhs: impl IntoOperand<M, T>) -> Expr<M> {
        self.cmp(CmpOp::Ne, rhs)
    }
    /// `column < rhs`
    pub fn lt(self, rhs: impl IntoOperand<M, T>) -> Expr<M> {
        self.cmp(CmpOp::Lt, rhs)
    }
    /// `column <= rhs`
    pub fn lte(self, rhs: impl IntoOperand<M, T>) -> Expr<M> {
        self.cmp(CmpOp::Lte, rhs)
    }
    /// `column > rhs`
    pub fn gt(self, rhs: impl IntoOperand<M, T>) -> Expr<M> {
        self.cmp(CmpOp::Gt, rhs)
    }
    /// `column >= rhs`
    pub fn gte(self, rhs: impl IntoOperand<M, T>) -> Expr<M> {
        self.cmp(CmpOp::Gte, rhs)
    }

    /// `column BETWEEN lo AND hi` (both ends included).
    pub fn between(self, lo: impl IntoOperand<M, T>, hi: impl IntoOperand<M, T>) -> Expr<M> {
        Expr::new(Node::Between(
            self.name,
            lo.into_operand(),
            hi.into_operand(),
        ))
    }

    /// `column IN (values...)`; an empty list matches nothing.
    pub fn in_<V, I>(self, values: I) -> Expr<M>
    where
        I: IntoIterator<Item = V>,
        V: IntoOperand<M, T>,
    {
        let vals = values
            .into_iter()
            .filter_map(|v| match v.into_operand() {
                Operand::Value(v) => Some(v),
                // Columns and arithmetic inside IN are not offered by this
                // API; the operand trait is shared with comparisons.
                _ => None,
            })
            .collect();
        Expr::new(Node::In(self.name, vals))
    }

    /// `column IN (SELECT key FROM <N's table> WHERE filter)`: a typed
    /// filter across a relation, e.g. posts whose author is an adult:
    /// `Post::AUTHOR_ID.in_select(User::ID, User::AGE.gte(18))`. The key
    /// must have this column's type.
    pub fn in_select<N: Model>(self, key: Column<N, T>, filter: Expr<N>) -> Expr<M> {
        Expr::new(Node::InSelect(
            self.name,
            N::meta().table,
            key.name,
            Box::new(filter.node),
        ))
    }

    /// `column IS NULL`
    pub fn is_null(self) -> Expr<M> {
        Expr::new(Node::IsNull(self.name, true))
    }

    /// `column IS NOT NULL`
    pub fn is_not_null(self) -> Expr<M> {
        Expr::new(Node::IsNull(self.name, false))
    }

    /// Ascending order on this column.
    pub fn asc(self) -> Order<M> {
        Order::new(self.name, false)
    }

    /// Descending order on this column.
    pub fn desc(self) -> Order<M> {
        Order::new(self.name, true)
    }
}

/// Text-only matches, on `String` and `Option<String>` columns.
pub trait TextColumn<M> {
    /// `column LIKE pattern`, the pattern passed through with the engine's
    /// own wildcard and case rules (a parameter, never SQL text).
    fn like(self, pattern: &str) -> Expr<M>;
    /// Case-sensitive substring match on every engine.
    fn contains(self, needle: &str) -> Expr<M>;
    /// Case-sensitive prefix match on every engine.
    fn starts_with(self, prefix: &str) -> Expr<M>;
    /// Case-sensitive suffix match on every engine.
    fn ends_with(self, suffix: &str) -> Expr<M>;
    /// Case-insensitive equality.
    fn iexact(self, s: &str) -> Expr<M>;
    /// Case-insensitive substring match.
    fn icontains(self, needle: &str) -> Expr<M>;
}

macro_rules! text_column {
    ($t:ty) => {
        impl<M> TextColumn<M> for Column<M, $t> {
            fn like(self, pattern: &str) -> Expr<M> {
                Expr::new(Node::Like(self.name, Value::from(pattern)))
            }
            fn contains(self, needle: &str) -> Expr<M> {
                Expr::new(Node::Text(
                    self.name,
                    TextMatch::Contains,
                    needle.to_owned(),
                ))
            }
            fn starts_with(self, prefix: &str) -> Expr<M> {
                Expr::new(Node::Text(
                    self.name,
                    TextMatch::StartsWith,
                    prefix.to_owned(),
                ))
            }
            fn ends_with(self, suffix: &str) -> Expr<M> {
                Expr::new(Node::Text(
                    self.name,
                    TextMatch::EndsWith,
                    suffix.to_owned(),
                ))
            }
            fn iexact(self, s: &str) -> Expr<M> {
                Expr::new(Node::Text(self.name, TextMatch::IExact, s.to_owned()))
            }
            fn icontains(self, needle: &str) -> Expr<M> {
                Expr::new(Node::Text(
                    self.name,
                    TextMatch::IContains,
                    needle.to_owned(),
                ))
            }
        }
    };
}

text_column!(String);
text_column!(Option<String>);

/// One ORDER BY term of model `M`.
pub struct Order<M> {
    pub(crate) column: &'static str,
    pub(crate) desc: bool,
    _m: PhantomData<fn() -> M>,
}

impl<M> Clone for Order<M> {
    fn clone(&self) -> Self {
        Order::new(self.column, self.desc)
    }
}

impl<M> std::fmt::Debug for Order<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}",
            self.column,
            if self.desc { "DESC" } else { "ASC" }
        )
    }
}

impl<M> Order<M> {
    pub(crate) fn new(column: &'static str, desc: bool) -> Self {
        Order {
            column,
            desc,
            _m: PhantomData,
        }
    }
}

impl<M, T> From<Column<M, T>> for Order<M> {
    fn from(c: Column<M, T>) -> Self {
        c.asc()
    }
}

/// Resolves `"age"` / `"-age"` against `M`'s fields.
pub(crate) fn order_by_name<M: Model>(spec: &str) -> Result<Order<M>, crate::OrmError> {
    let (desc, name) = match spec.strip_prefix('-') {
        Some(n) => (true, n),
        None => (false, spec),
    };
    let meta = M::meta();
    match meta.column_by_field(name) {
        Some((_, c)) => Ok(Order::new(c.name, desc)),
        None => Err(crate::OrmError::UnknownField {
            model: meta.name,
            field: name.to_owned(),
            valid: meta.field_list(),
        }),
    }
}
