//! The per-connection statement cache: least recently used, bounded, keyed by SQL text with a
//! fast hash. An evicted statement is dropped, and tokio-postgres closes it on the server.
//!
//! With a size of 0 no statement is named (for transaction-mode poolers): statements go out as
//! the unnamed statement with the parameter types given, in one round trip, and the cache
//! keeps only each SQL text's parameter types (client memory only).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio_postgres::types::{Kind, ToSql, Type, WrongType};
use tokio_postgres::Statement;

/// Default for `PoolConfig::statement_cache_size`.
pub const DEFAULT_STATEMENT_CACHE_SIZE: usize = 100;

/// How many SQL texts' parameter types are kept when no statement is named.
const TYPES_CAPACITY: usize = 256;

/// The statements (or, at size 0, the parameter types) of one connection.
#[derive(Debug)]
pub(crate) struct StatementCache {
    capacity: usize,
    statements: Mutex<Lru<Statement>>,
    types: Mutex<Lru<Arc<[Type]>>>,
}

impl StatementCache {
    pub(crate) fn new(capacity: usize) -> StatementCache {
        StatementCache {
            capacity,
            statements: Mutex::new(Lru::new(capacity)),
            types: Mutex::new(Lru::new(if capacity == 0 { TYPES_CAPACITY } else { 0 })),
        }
    }

    /// Whether statements are prepared and named at all (size above 0).
    pub(crate) fn names_statements(&self) -> bool {
        self.capacity > 0
    }

    pub(crate) fn get(&self, sql: &str) -> Option<Statement> {
        lock(&self.statements).get(sql)
    }

    /// Keeps `stmt`; the least recently used statement goes when the cache is full, and is
    /// closed on the server once nothing uses it any more.
    pub(crate) fn insert(&self, sql: &str, stmt: Statement) {
        let evicted = lock(&self.statements).insert(sql, stmt);
        // Dropped outside the lock: the drop queues a Close message.
        drop(evicted);
    }

    pub(crate) fn remove(&self, sql: &str) {
        let removed = lock(&self.statements).remove(sql);
        drop(removed);
    }

    /// Statements held.
    pub(crate) fn len(&self) -> usize {
        lock(&self.statements).map.len()
    }

    /// The parameter types of `sql` for the unnamed-statement path: remembered from an earlier
    /// call, or worked out from the values (each value's Rust type accepts one PostgreSQL type
    /// first in a fixed list of the built-in ones). `Err` holds what the values tell, `None`
    /// for each value no built-in type takes: the caller asks the server (see
    /// [`StatementCache::remember_types`]).
    pub(crate) fn param_types(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Arc<[Type]>, Vec<Option<Type>>> {
        if let Some(types) = lock(&self.types).get(sql) {
            if types.len() == params.len() {
                return Ok(types);
            }
        }
        let inferred: Vec<Option<Type>> = params.iter().map(|p| infer_type(*p)).collect();
        if inferred.iter().any(Option::is_none) {
            return Err(inferred);
        }
        let types: Arc<[Type]> = inferred.into_iter().flatten().collect();
        lock(&self.types).insert(sql, types.clone());
        Ok(types)
    }

    /// Remembers the parameter types of `sql`, completed by the server.
    pub(crate) fn remember_types(&self, sql: &str, types: Arc<[Type]>) {
        lock(&self.types).insert(sql, types);
    }

    /// Forgets the remembered parameter types of `sql` (the values' types changed).
    pub(crate) fn forget_types(&self, sql: &str) {
        lock(&self.types).remove(sql);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The cache stays usable after a panic elsewhere: its maps are always consistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The PostgreSQL type a parameter is sent as on the unnamed-statement path: the first of the
/// built-in types (then their arrays) that the value accepts.
fn infer_type(value: &(dyn ToSql + Sync)) -> Option<Type> {
    const SCALARS: [Type; 21] = [
        Type::TEXT,
        Type::INT4,
        Type::INT8,
        Type::INT2,
        Type::BOOL,
        Type::UUID,
        Type::TIMESTAMPTZ,
        Type::TIMESTAMP,
        Type::DATE,
        Type::TIME,
        Type::FLOAT8,
        Type::FLOAT4,
        Type::NUMERIC,
        Type::BYTEA,
        Type::JSONB,
        Type::JSON,
        Type::INET,
        Type::CHAR,
        Type::OID,
        Type::INTERVAL,
        Type::VARCHAR,
    ];
    const ARRAYS: [Type; 21] = [
        Type::TEXT_ARRAY,
        Type::INT4_ARRAY,
        Type::INT8_ARRAY,
        Type::INT2_ARRAY,
        Type::BOOL_ARRAY,
        Type::UUID_ARRAY,
        Type::TIMESTAMPTZ_ARRAY,
        Type::TIMESTAMP_ARRAY,
        Type::DATE_ARRAY,
        Type::TIME_ARRAY,
        Type::FLOAT8_ARRAY,
        Type::FLOAT4_ARRAY,
        Type::NUMERIC_ARRAY,
        Type::BYTEA_ARRAY,
        Type::JSONB_ARRAY,
        Type::JSON_ARRAY,
        Type::INET_ARRAY,
        Type::CHAR_ARRAY,
        Type::OID_ARRAY,
        Type::INTERVAL_ARRAY,
        Type::VARCHAR_ARRAY,
    ];
    let mut scratch = bytes::BytesMut::new();
    SCALARS.iter().chain(ARRAYS.iter()).find_map(|ty| {
        scratch.clear();
        match value.to_sql_checked(ty, &mut scratch) {
            Ok(_) => Some(ty.clone()),
            // An error other than the wrong type (a value out of range) still means the type
            // fits: the real encoding reports it.
            Err(e) if !e.is::<WrongType>() => Some(ty.clone()),
            Err(_) => None,
        }
    })
}

/// The type of parameter `$n` of `sql` that no built-in type takes, from the cast the SQL text
/// puts on it (`$n::hstore`, `$n::"app"."state"[]`, as the generated statements write them),
/// looked up on the server: what lets a user type's `ToSql` (an extension's type, a native
/// enum) go out without a prepared statement. An uncast parameter is a configuration error
/// that says so.
pub(crate) async fn server_type(
    client: &tokio_postgres::Client,
    sql: &str,
    n: usize,
    value: &(dyn ToSql + Sync),
) -> crate::Result<Type> {
    let Some(name) = cast_of(sql, n) else {
        return Err(crate::Error::Config(format!(
            "parameter ${n} ({value:?}) is of no built-in PostgreSQL type, so it cannot be sent \
             without a prepared statement; cast it in the SQL text (`${n}::its_type`) or set a \
             statement cache size above 0"
        )));
    };
    let row = client
        .query_typed_opt(
            "SELECT t.oid, t.typname::text, n.nspname::text, t.typtype::text, \
                    e.oid, e.typname::text, en.nspname::text, e.typtype::text \
             FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
             LEFT JOIN pg_type e ON e.oid = t.typelem AND t.typcategory = 'A' \
             LEFT JOIN pg_namespace en ON en.oid = e.typnamespace \
             WHERE t.oid = to_regtype($1)",
            &[(&name, Type::TEXT)],
        )
        .await?
        .ok_or_else(|| {
            crate::Error::Config(format!(
                "parameter ${n} is cast to type `{name}`, which the server does not know"
            ))
        })?;
    let ty = |oid: u32, name: String, schema: String, typtype: &str| {
        Type::from_oid(oid).unwrap_or_else(|| {
            let kind = match typtype {
                "e" => Kind::Enum(Vec::new()),
                "p" => Kind::Pseudo,
                _ => Kind::Simple,
            };
            Type::new(name, oid, kind, schema)
        })
    };
    let (oid, name, schema, typtype): (u32, String, String, String) = (
        row.try_get(0)?,
        row.try_get(1)?,
        row.try_get(2)?,
        row.try_get(3)?,
    );
    let element: Option<u32> = row.try_get(4)?;
    Ok(match element {
        Some(elem_oid) if Type::from_oid(oid).is_none() => {
            let element = ty(
                elem_oid,
                row.try_get(5)?,
                row.try_get(6)?,
                &row.try_get::<_, String>(7)?,
            );
            Type::new(name, oid, Kind::Array(element), schema)
        }
        _ => ty(oid, name, schema, &typtype),
    })
}

/// The type name in the cast `$n::type` in `sql`, if there is one: a plain or
/// schema-qualified name, quoted or not, with any `[]`.
fn cast_of(sql: &str, n: usize) -> Option<String> {
    let needle = format!("${n}::");
    let mut from = 0;
    while let Some(at) = sql[from..].find(&needle) {
        let start = from + at + needle.len();
        from = start;
        let rest = &sql[start..];
        let mut end = 0;
        let bytes = rest.as_bytes();
        loop {
            if bytes.get(end) == Some(&b'"') {
                // A quoted identifier; "" is a quote inside it.
                end += 1;
                loop {
                    match bytes.get(end) {
                        None => return None,
                        Some(b'"') if bytes.get(end + 1) == Some(&b'"') => end += 2,
                        Some(b'"') => {
                            end += 1;
                            break;
                        }
                        Some(_) => end += 1,
                    }
                }
            } else {
                let len = rest[end..]
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len() - end);
                if len == 0 {
                    break;
                }
                end += len;
            }
            if bytes.get(end) == Some(&b'.') {
                end += 1;
            } else {
                break;
            }
        }
        while rest[end..].starts_with("[]") {
            end += 2;
        }
        if end > 0 {
            return Some(rest[..end].to_string());
        }
    }
    None
}

/// A small least-recently-used map: a hit is one hash lookup and a counter; an insert into a
/// full map scans for the oldest entry (caches are small, and an insert follows a round trip).
#[derive(Debug)]
struct Lru<V> {
    capacity: usize,
    map: HashMap<Box<str>, (V, u64), BuildHasherDefault<FxHasher>>,
    tick: u64,
}

impl<V: Clone> Lru<V> {
    fn new(capacity: usize) -> Lru<V> {
        Lru {
            capacity,
            map: HashMap::default(),
            tick: 0,
        }
    }

    fn get(&mut self, key: &str) -> Option<V> {
        self.tick += 1;
        let tick = self.tick;
        self.map.get_mut(key).map(|(v, used)| {
            *used = tick;
            v.clone()
        })
    }

    // Returns the evicted (or replaced) value, for the caller to drop.
    fn insert(&mut self, key: &str, value: V) -> Option<V> {
        if self.capacity == 0 {
            return Some(value);
        }
        self.tick += 1;
        let mut evicted = None;
        if self.map.len() >= self.capacity && !self.map.contains_key(key) {
            let oldest = self
                .map
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                evicted = self.map.remove(&oldest).map(|(v, _)| v);
            }
        }
        let replaced = self.map.insert(key.into(), (value, self.tick));
        evicted.or(replaced.map(|(v, _)| v))
    }

    fn remove(&mut self, key: &str) -> Option<V> {
        self.map.remove(key).map(|(v, _)| v)
    }
}

/// The Fx hash (rustc's): a multiply and a rotate per word. SQL texts are not attacker-chosen
/// keys here, and SipHash cost ~900 instructions per lookup of a typical statement.
#[derive(Default, Clone, Copy)]
struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cast_on_a_parameter() {
        let sql = "UPDATE t SET a = $1, b = $10::hstore, c = $2::\"app\".\"st\"\"ate\"[] WHERE x = $3::public.mood";
        assert_eq!(cast_of(sql, 1), None);
        assert_eq!(cast_of(sql, 10).as_deref(), Some("hstore"));
        assert_eq!(cast_of(sql, 2).as_deref(), Some("\"app\".\"st\"\"ate\"[]"));
        assert_eq!(cast_of(sql, 3).as_deref(), Some("public.mood"));
        assert_eq!(cast_of("SELECT $1::", 1), None);
        assert_eq!(cast_of("SELECT $1::\"open", 1), None);
    }

    #[test]
    fn least_recently_used_goes_first() {
        let mut lru: Lru<u32> = Lru::new(2);
        assert_eq!(lru.insert("a", 1), None);
        assert_eq!(lru.insert("b", 2), None);
        assert_eq!(lru.get("a"), Some(1)); // b is now the oldest
        assert_eq!(lru.insert("c", 3), Some(2));
        assert_eq!(lru.get("b"), None);
        assert_eq!((lru.get("a"), lru.get("c")), (Some(1), Some(3)));
        assert_eq!(lru.insert("c", 4), Some(3)); // replaced, nothing evicted
        assert_eq!(lru.map.len(), 2);
        assert_eq!(lru.remove("a"), Some(1));
        let mut none: Lru<u32> = Lru::new(0);
        assert_eq!(none.insert("a", 1), Some(1));
        assert_eq!(none.get("a"), None);
    }

    #[test]
    fn parameter_types_follow_the_values() {
        let cache = StatementCache::new(0);
        let id = uuid::Uuid::nil();
        let at = chrono::Utc::now();
        let params: [&(dyn ToSql + Sync); 8] = [
            &"text",
            &1i32,
            &2i64,
            &id,
            &at,
            &Some(3i16),
            &None::<bool>,
            &vec![1i64, 2],
        ];
        let types = cache.param_types("q", &params).unwrap();
        assert_eq!(
            &*types,
            [
                Type::TEXT,
                Type::INT4,
                Type::INT8,
                Type::UUID,
                Type::TIMESTAMPTZ,
                Type::INT2,
                Type::BOOL,
                Type::INT8_ARRAY
            ]
        );
        // Remembered per SQL text.
        assert!(Arc::ptr_eq(
            &types,
            &cache.param_types("q", &params).unwrap()
        ));
    }

    #[test]
    fn fx_hash_spreads_texts() {
        let hash = |s: &str| {
            let mut h = FxHasher::default();
            h.write(s.as_bytes());
            h.finish()
        };
        assert_ne!(hash("SELECT 1"), hash("SELECT 2"));
        assert_ne!(hash("abcdefgh1"), hash("abcdefgh2"));
    }
}
