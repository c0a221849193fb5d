//! Shards: a key's hash picks one of N routers.
//!
//! The hash is PostgreSQL's own hash-partitioning function
//! (`PARTITION BY HASH`, `satisfies_hash_partition`): Bob Jenkins' lookup3
//! hash of the key with the seed PostgreSQL uses for partitioning, so a key
//! lands on the shard whose number is the remainder PostgreSQL would give
//! it with `MODULUS n`. Integers of every width hash alike (PostgreSQL
//! folds a `bigint` that fits in 32 bits to the `integer` hash), and text
//! hashes its UTF-8 bytes, as PostgreSQL does under a deterministic
//! collation.

use covet_core::{Adapter, Error, ErrorKind, Result, Rows, Statement};

use crate::error::RouterError;
use crate::router::Router;

/// PostgreSQL's `HASH_PARTITION_SEED`.
const PARTITION_SEED: u64 = 0x7A5B_2236_7996_DCFD;

fn mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(4);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(6);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(8);
    *b = b.wrapping_add(*a);
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(16);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(19);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(4);
    *b = b.wrapping_add(*a);
}

fn finish(a: &mut u32, b: &mut u32, c: &mut u32) {
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(14));
    *a ^= *c;
    *a = a.wrapping_sub(c.rotate_left(11));
    *b ^= *a;
    *b = b.wrapping_sub(a.rotate_left(25));
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(16));
    *a ^= *c;
    *a = a.wrapping_sub(c.rotate_left(4));
    *b ^= *a;
    *b = b.wrapping_sub(a.rotate_left(14));
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(24));
}

fn seeded(len: u32, seed: u64) -> (u32, u32, u32) {
    let mut a = 0x9e37_79b9_u32.wrapping_add(len).wrapping_add(3_923_095);
    let (mut b, mut c) = (a, a);
    if seed != 0 {
        a = a.wrapping_add((seed >> 32) as u32);
        b = b.wrapping_add(seed as u32);
        mix(&mut a, &mut b, &mut c);
    }
    (a, b, c)
}

/// PostgreSQL's `hash_bytes_extended`.
fn hash_bytes(key: &[u8], seed: u64) -> u64 {
    let (mut a, mut b, mut c) = seeded(key.len() as u32, seed);
    let le = |k: &[u8]| u32::from_le_bytes([k[0], k[1], k[2], k[3]]);
    let mut k = key;
    while k.len() >= 12 {
        a = a.wrapping_add(le(&k[0..4]));
        b = b.wrapping_add(le(&k[4..8]));
        c = c.wrapping_add(le(&k[8..12]));
        mix(&mut a, &mut b, &mut c);
        k = &k[12..];
    }
    // The tail, little-endian; c's lowest byte is left for the length.
    for (i, byte) in k.iter().enumerate() {
        let v = u32::from(*byte);
        match i {
            0..=3 => a = a.wrapping_add(v << (8 * i)),
            4..=7 => b = b.wrapping_add(v << (8 * (i - 4))),
            _ => c = c.wrapping_add(v << (8 * (i - 7))),
        }
    }
    finish(&mut a, &mut b, &mut c);
    (u64::from(b) << 32) | u64::from(c)
}

/// PostgreSQL's `hash_uint32_extended`.
fn hash_u32(k: u32, seed: u64) -> u64 {
    let (mut a, mut b, mut c) = seeded(4, seed);
    a = a.wrapping_add(k);
    finish(&mut a, &mut b, &mut c);
    (u64::from(b) << 32) | u64::from(c)
}

/// A row's partition hash from one key's hash (`hash_combine64(0, h)`).
fn row_hash(h: u64) -> u64 {
    h.wrapping_add(0x49a0_f4dd_15e5_a8e3)
}

/// A shard key: an integer (`smallint`, `integer`, `bigint`) or text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardKey<'a> {
    /// An integer key.
    Int(i64),
    /// A text key (its UTF-8 bytes are hashed).
    Text(&'a str),
}

impl From<i64> for ShardKey<'_> {
    fn from(v: i64) -> Self {
        ShardKey::Int(v)
    }
}

impl From<i32> for ShardKey<'_> {
    fn from(v: i32) -> Self {
        ShardKey::Int(i64::from(v))
    }
}

impl<'a> From<&'a str> for ShardKey<'a> {
    fn from(v: &'a str) -> Self {
        ShardKey::Text(v)
    }
}

impl ShardKey<'_> {
    /// PostgreSQL's partition hash of this key (the value
    /// `satisfies_hash_partition` takes the remainder of).
    pub fn partition_hash(self) -> u64 {
        row_hash(match self {
            ShardKey::Int(v) => {
                // hashint8extended: fold the high half in so that values
                // that fit in 32 bits hash as the integer type does.
                let lo = v as u32;
                let hi = (v >> 32) as u32;
                hash_u32(lo ^ if v >= 0 { hi } else { !hi }, PARTITION_SEED)
            }
            ShardKey::Text(s) => hash_bytes(s.as_bytes(), PARTITION_SEED),
        })
    }

    /// The shard (remainder) of this key among `n` shards, as PostgreSQL's
    /// `PARTITION BY HASH` with `MODULUS n` would place it.
    pub fn shard_of(self, n: usize) -> usize {
        (self.partition_hash() % n.max(1) as u64) as usize
    }
}

/// N shards, each a [`Router`] (a primary and its replicas); a key's
/// [`ShardKey::shard_of`] picks one.
///
/// There is no way to run a statement on the map without a key except
/// [`ShardMap::scatter_query`], which runs it on every shard's replicas and
/// concatenates the rows: no ORDER BY, LIMIT, aggregate or DISTINCT applies
/// across shards, the shards are read at different moments (no common
/// snapshot), and one failing shard fails the call.
///
/// ```
/// # fn demo(shards: Vec<covet_router::Router>) -> Result<(), covet_router::RouterError> {
/// use covet_router::{ShardKey, ShardMap};
/// let map = ShardMap::new(shards)?;
/// let router = map.shard(ShardKey::Int(42)); // writes, reads, tokens as usual
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ShardMap {
    shards: Vec<Router>,
}

impl ShardMap {
    /// A map over `shards`, shard `i` holding the keys whose remainder is
    /// `i`. Growing the map moves keys: see the crate README.
    pub fn new(shards: Vec<Router>) -> std::result::Result<Self, RouterError> {
        if shards.is_empty() {
            return Err(RouterError::Setting("a shard map needs at least one shard"));
        }
        Ok(ShardMap { shards })
    }

    /// The number of shards.
    pub fn len(&self) -> usize {
        self.shards.len()
    }

    /// Always false: a map has at least one shard.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The shard number of a key.
    pub fn shard_of<'k>(&self, key: impl Into<ShardKey<'k>>) -> usize {
        key.into().shard_of(self.shards.len())
    }

    /// The router of a key's shard.
    pub fn shard<'k>(&self, key: impl Into<ShardKey<'k>>) -> &Router {
        &self.shards[self.shard_of(key)]
    }

    /// Every shard's router, in shard order.
    pub fn shards(&self) -> &[Router] {
        &self.shards
    }

    /// Runs a read on every shard (its replicas, as [`Router::reader`])
    /// and concatenates the rows in shard order. See the type's docs for
    /// what does not hold across shards.
    pub async fn scatter_query(&self, stmt: &Statement) -> Result<Rows> {
        let results = futures_util::future::join_all(
            self.shards
                .iter()
                .map(|s| async move { s.reader().query(stmt).await }),
        )
        .await;
        let mut out = Rows::default();
        for (i, r) in results.into_iter().enumerate() {
            let rows = r.map_err(|e| e.context(format!("shard {i}")))?;
            if i == 0 {
                out.columns = rows.columns.clone();
            } else if rows.columns.len() != out.columns.len() {
                return Err(Error::new(
                    ErrorKind::Decode,
                    format!("shard {i} returned a different number of columns"),
                ));
            }
            out.rows.extend(rows.rows);
        }
        Ok(out)
    }
}
