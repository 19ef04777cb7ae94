//! `migrate verify`: each migration's Down proven to undo its Up, by reading the catalog before
//! Up and after Down and comparing the two.

use std::collections::BTreeMap;
use std::fmt;

use super::Migrator;
use crate::error::Result;
use crate::executor::Executor;

/// What [`Migrator::verify`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verification {
    /// The migrations whose Down restored the catalog, in order.
    pub verified: Vec<String>,
    /// Migrations with an empty Down: applied, not reverted, not a difference.
    pub irreversible: Vec<String>,
    /// The first migration whose Down did not restore the catalog (verification stops there).
    pub failed: Option<NotRestored>,
}

impl Verification {
    /// Every Down that ran restored the catalog.
    pub fn is_clean(&self) -> bool {
        self.failed.is_none()
    }
}

/// A migration whose Down does not undo its Up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotRestored {
    /// The migration.
    pub id: String,
    /// Each difference between the catalog before Up and after Down, in the words of the
    /// schema check: `app.users.email: type text NOT NULL before Up, varchar(200) NOT NULL
    /// after Down`. One entry, the server's error, when the Down failed.
    pub differences: Vec<String>,
}

impl fmt::Display for NotRestored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: Down does not restore the schema", self.id)?;
        for d in &self.differences {
            write!(f, "\n  {d}")?;
        }
        Ok(())
    }
}

impl Migrator {
    /// Proves each migration's Down: on `db` (a scratch database: it is changed), for each
    /// migration from `from` (a file name or its number; `None`: the first) on, reads the
    /// catalog, applies Up, applies Down, compares the catalog with the one before, and applies
    /// Up again. The migrations before `from` are applied without being checked. Stops at the
    /// first migration whose Down does not restore the catalog ([`Verification::failed`]);
    /// an empty Down is listed as irreversible and not reverted.
    ///
    /// Compared: schemas; tables (logged or not), views (their definition), materialized views
    /// and sequences (type, start, increment, bounds, cycle); columns (type, nullability,
    /// default, identity, generated expression, collation); constraints (their definition,
    /// deferrable, NOT VALID); indexes (their definition); enum types and their labels in
    /// order, domains, composite and range types; functions and procedures (signature, result,
    /// language, volatility and body); triggers; extensions (version, schema); comments on
    /// any of these. Objects that belong to an extension and the history table are left out.
    ///
    /// ```no_run
    /// # async fn run(scratch: skelly_db::Pool) -> skelly_db::Result<()> {
    /// use skelly_db::migrate::Migrator;
    ///
    /// let report = Migrator::from_dir("migrations")?.verify(&scratch, None).await?;
    /// if let Some(failed) = &report.failed {
    ///     panic!("{failed}");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn verify(&self, db: &impl Executor, from: Option<&str>) -> Result<Verification> {
        let start = match from {
            Some(version) => {
                let target = self.find(version)?.id();
                self.migrations
                    .iter()
                    .position(|m| m.id() == target)
                    .unwrap_or(0)
            }
            None => 0,
        };
        if start > 0 {
            self.up_to(db, self.migrations[start - 1].id()).await?;
        }
        {
            let session = db.session().await?;
            self.history.create(session.real_client("verify")?).await?;
        }
        let history = self.history.qualified();
        let mut report = Verification::default();
        for m in &self.migrations[start..] {
            let before = snapshot(db, &history).await?;
            self.up_to(db, m.id()).await?;
            if m.is_irreversible() {
                report.irreversible.push(m.id().to_string());
                continue;
            }
            if let Err(e) = self.down(db, 1).await {
                report.failed = Some(NotRestored {
                    id: m.id().to_string(),
                    differences: vec![format!("Down failed: {e}")],
                });
                return Ok(report);
            }
            let after = snapshot(db, &history).await?;
            let differences = compare(&before, &after);
            if !differences.is_empty() {
                report.failed = Some(NotRestored {
                    id: m.id().to_string(),
                    differences,
                });
                return Ok(report);
            }
            self.up_to(db, m.id()).await?;
            report.verified.push(m.id().to_string());
        }
        Ok(report)
    }
}

/// Each object of the catalog as `(what, its description)`: `what` in the words of the schema
/// check (`app.users.email`, `app.users: constraint users_email_key`, `index app.users_email_idx`).
const SNAPSHOT: &str = r#"
WITH user_ns AS (
    SELECT oid, nspname FROM pg_namespace
    WHERE nspname NOT IN ('pg_catalog', 'information_schema')
      AND nspname NOT LIKE 'pg\_toast%' AND nspname NOT LIKE 'pg\_temp\_%'
),
ext_members AS (
    SELECT classid, objid FROM pg_depend WHERE deptype = 'e'
),
rels AS (
    SELECT c.oid, c.relname, c.relkind, c.relpersistence, n.nspname
    FROM pg_class c JOIN user_ns n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c')
      AND c.oid IS DISTINCT FROM to_regclass($1)
      AND NOT EXISTS (SELECT 1 FROM ext_members e
                      WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid)
      AND NOT EXISTS (SELECT 1 FROM pg_type t WHERE t.typrelid = c.oid AND c.relkind = 'c'
                      AND EXISTS (SELECT 1 FROM ext_members e
                                  WHERE e.classid = 'pg_type'::regclass AND e.objid = t.oid))
)
SELECT 'schema ' || nspname, 'schema'
FROM user_ns WHERE nspname NOT LIKE 'pg\_%'
UNION ALL
SELECT format('%s.%s', nspname, relname),
       CASE relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table'
                    WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                    WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table'
                    ELSE 'composite type' END
       || CASE relpersistence WHEN 'u' THEN ' (unlogged)' ELSE '' END
       || CASE WHEN relkind IN ('v', 'm') THEN ' AS ' || btrim(regexp_replace(pg_get_viewdef(oid), '\s+', ' ', 'g')) ELSE '' END
       || coalesce((SELECT format(' %s start %s increment %s min %s max %s%s', format_type(s.seqtypid, NULL),
                                  s.seqstart, s.seqincrement, s.seqmin, s.seqmax,
                                  CASE WHEN s.seqcycle THEN ' cycle' ELSE '' END)
                    FROM pg_sequence s WHERE s.seqrelid = rels.oid), '')
FROM rels
UNION ALL
SELECT format('%s.%s.%s', r.nspname, r.relname, a.attname),
       format_type(a.atttypid, a.atttypmod)
       || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
       || CASE a.attidentity WHEN 'a' THEN ' GENERATED ALWAYS AS IDENTITY'
                             WHEN 'd' THEN ' GENERATED BY DEFAULT AS IDENTITY' ELSE '' END
       || coalesce(CASE a.attgenerated WHEN 's' THEN ' GENERATED ALWAYS AS (' || pg_get_expr(d.adbin, d.adrelid) || ') STORED'
                                       ELSE ' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid) END, '')
       || CASE WHEN a.attcollation <> 0 AND a.attcollation <> (SELECT typcollation FROM pg_type WHERE oid = a.atttypid)
               THEN ' COLLATE ' || (SELECT quote_ident(collname) FROM pg_collation WHERE oid = a.attcollation) ELSE '' END
FROM rels r
JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE r.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')
UNION ALL
SELECT format('%s.%s: constraint %s', r.nspname, r.relname, con.conname),
       pg_get_constraintdef(con.oid)
       || CASE WHEN con.condeferrable THEN ' DEFERRABLE' ELSE '' END
       || CASE WHEN con.condeferred THEN ' INITIALLY DEFERRED' ELSE '' END
FROM pg_constraint con JOIN rels r ON r.oid = con.conrelid
UNION ALL
SELECT format('index %s.%s', r.nspname, i.relname), pg_get_indexdef(x.indexrelid)
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN rels r ON r.oid = x.indrelid
UNION ALL
SELECT format('%s.%s: trigger %s', r.nspname, r.relname, t.tgname), pg_get_triggerdef(t.oid)
FROM pg_trigger t JOIN rels r ON r.oid = t.tgrelid
WHERE NOT t.tgisinternal
UNION ALL
SELECT format('type %s.%s', n.nspname, t.typname),
       CASE t.typtype
           WHEN 'e' THEN 'enum (' || (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)
                                      FROM pg_enum e WHERE e.enumtypid = t.oid) || ')'
           WHEN 'd' THEN 'domain over ' || format_type(t.typbasetype, t.typtypmod)
                         || CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END
                         || coalesce(' DEFAULT ' || t.typdefault, '')
                         || coalesce((SELECT string_agg(' CONSTRAINT ' || quote_ident(c.conname) || ' ' || pg_get_constraintdef(c.oid), '' ORDER BY c.conname)
                                      FROM pg_constraint c WHERE c.contypid = t.oid), '')
           WHEN 'r' THEN 'range of ' || (SELECT format_type(rngsubtype, NULL) FROM pg_range WHERE rngtypid = t.oid)
           ELSE 'type' END
FROM pg_type t JOIN user_ns n ON n.oid = t.typnamespace
WHERE t.typtype IN ('e', 'd', 'r')
  AND NOT EXISTS (SELECT 1 FROM ext_members e WHERE e.classid = 'pg_type'::regclass AND e.objid = t.oid)
UNION ALL
SELECT format('%s %s.%s(%s)', CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END,
              n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
       CASE WHEN p.prokind = 'p' THEN '' ELSE 'returns ' || pg_get_function_result(p.oid) || ', ' END
       || 'language ' || l.lanname
       || CASE p.provolatile WHEN 'i' THEN ', immutable' WHEN 's' THEN ', stable' ELSE '' END
       || CASE WHEN p.prosecdef THEN ', security definer' ELSE '' END
       || ', body ' || left(md5(coalesce(p.prosrc, '') || coalesce(p.probin, '')), 12)
FROM pg_proc p JOIN user_ns n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
WHERE NOT EXISTS (SELECT 1 FROM ext_members e WHERE e.classid = 'pg_proc'::regclass AND e.objid = p.oid)
UNION ALL
SELECT 'extension ' || x.extname, 'version ' || x.extversion || ' in schema ' || n.nspname
FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace
WHERE x.extname <> 'plpgsql'
UNION ALL
SELECT 'comment on ' || pg_describe_object(d.classoid, d.objoid, d.objsubid), quote_literal(d.description)
FROM pg_description d
WHERE d.objoid >= 16384
  AND d.classoid <> 'pg_extension'::regclass
  AND NOT EXISTS (SELECT 1 FROM ext_members e WHERE e.classid = d.classoid AND e.objid = d.objoid)
  AND NOT (d.classoid = 'pg_class'::regclass AND d.objoid IS NOT DISTINCT FROM to_regclass($1))
  AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE d.classoid = 'pg_class'::regclass AND c.oid = d.objoid
                  AND c.relnamespace IN (SELECT oid FROM pg_namespace WHERE nspname LIKE 'pg\_toast%'))
"#;

// The catalog as `what -> description`.
async fn snapshot(db: &impl Executor, history: &str) -> Result<BTreeMap<String, String>> {
    let rows = db.query(SNAPSHOT, &[&history]).await?;
    Ok(rows
        .iter()
        .map(|row| (row.get::<_, String>(0), row.get::<_, String>(1)))
        .collect())
}

/// The differences between the catalog before Up and after Down, one line each.
pub(crate) fn compare(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (what, was) in before {
        match after.get(what) {
            None => out.push(format!("{what}: {was} before Up, missing after Down")),
            Some(now) if now != was => {
                out.push(format!("{what}: {was} before Up, {now} after Down"))
            }
            Some(_) => {}
        }
    }
    for (what, now) in after {
        if !before.contains_key(what) {
            out.push(format!(
                "{what}: {now} left behind by Down (not there before Up)"
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_name_the_object_and_both_states() {
        let before: BTreeMap<String, String> = [
            ("app.users.email", "text NOT NULL"),
            ("index app.users_email_idx", "CREATE INDEX ..."),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let mut after = before.clone();
        after.insert(
            "app.users.email".into(),
            "character varying(200) NOT NULL".into(),
        );
        after.remove("index app.users_email_idx");
        after.insert("app.users.bio".into(), "text".into());
        assert_eq!(
            compare(&before, &after),
            [
                "app.users.email: text NOT NULL before Up, character varying(200) NOT NULL after Down",
                "index app.users_email_idx: CREATE INDEX ... before Up, missing after Down",
                "app.users.bio: text left behind by Down (not there before Up)",
            ]
        );
        assert!(compare(&before, &before).is_empty());
    }
}
