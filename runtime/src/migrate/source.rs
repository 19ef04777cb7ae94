use std::path::Path;

use sha2::{Digest, Sha256};
use skelly_db_migrate_format::{
    check_goose_name, compare_ids, is_go_migration, is_goose, parse_any, LoadError, ParsedMigration,
};

use super::MigrationError;

/// One migration file: its identity (the file name), checksum and statements.
#[derive(Debug, Clone)]
pub struct Migration {
    id: String,
    checksum: String,
    parsed: ParsedMigration,
    goose: bool,
    go: bool,
    source: String,
}

impl Migration {
    /// Parses one file of a set. A file without a Down marker loads; the [`Migrator`](super::Migrator)
    /// refuses to run it unless empty Downs are allowed
    /// ([`Migrator::allow_empty_down`](super::Migrator::allow_empty_down)).
    pub fn new(id: &str, source: &str) -> Result<Migration, MigrationError> {
        if is_go_migration(id) {
            return Ok(Migration {
                id: id.to_string(),
                checksum: checksum(source),
                parsed: skelly_db_migrate_format::go_migration(),
                goose: true,
                go: true,
                source: source.to_string(),
            });
        }
        let goose = is_goose(source);
        let parsed = parse_any(source).map_err(|e| MigrationError::Parse {
            file: Some(id.to_string()),
            line: e.line,
            message: e.message,
        })?;
        if goose {
            check_goose_name(id).map_err(|e| MigrationError::Parse {
                file: Some(id.to_string()),
                line: e.line,
                message: e.message,
            })?;
        }
        Ok(Migration {
            id: id.to_string(),
            checksum: checksum(source),
            parsed,
            goose,
            go: false,
            source: source.to_string(),
        })
    }

    /// The identity: the full file name, e.g. `20240101120000_create_users.sql`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// SHA-256 of the file (CRLF read as LF), lowercase hex.
    pub fn checksum(&self) -> &str {
        &self.checksum
    }

    /// The file's text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The parsed statements.
    pub fn parsed(&self) -> &ParsedMigration {
        &self.parsed
    }

    /// Whether the Down section is empty (or missing), so the migration cannot be reverted
    /// unless empty Downs are allowed (then it reverts as a no-op).
    pub fn is_irreversible(&self) -> bool {
        self.parsed.down.statements.is_empty()
    }

    /// Whether the file is in goose's format (`-- +goose Up`), parsed with goose's rules.
    pub fn is_goose(&self) -> bool {
        self.goose
    }

    /// Whether it is a goose Go migration (`00003_backfill.go`): skelly-db cannot run it; `up`
    /// and `down` refuse to pass it, and it can be recorded as applied
    /// ([`Migrator::adopt_goose_with_go`](super::Migrator::adopt_goose_with_go), `mark_applied`).
    pub fn is_go(&self) -> bool {
        self.go
    }

    /// Whether the file has a Down marker at all (`-- +migrate Down` or `-- +goose Down`).
    pub fn has_down_marker(&self) -> bool {
        self.parsed.down.present
    }
}

/// SHA-256 of a file with CRLF normalised to LF, in lowercase hex.
pub(crate) fn checksum(source: &str) -> String {
    let normalised = source.replace("\r\n", "\n");
    let digest = Sha256::digest(normalised.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks a set: one format, no two migrations with one identity; then sorts it the
/// sql-migrate way (goose's numeric versions sort the same).
pub(crate) fn into_ordered(mut set: Vec<Migration>) -> Result<Vec<Migration>, MigrationError> {
    set.sort_by(|a, b| compare_ids(&a.id, &b.id));
    let goose = set.iter().find(|m| m.goose);
    let sql_migrate = set.iter().find(|m| !m.goose);
    if let (Some(g), Some(s)) = (goose, sql_migrate) {
        return Err(MigrationError::MixedFormats {
            goose: g.id.clone(),
            sql_migrate: s.id.clone(),
        });
    }
    if let Some(pair) = set.windows(2).find(|w| w[0].id == w[1].id) {
        return Err(MigrationError::Duplicate {
            id: pair[0].id.clone(),
        });
    }
    Ok(set)
}

/// Reads every top-level `.sql` file of a directory: the ones that parse, and the parse error
/// of each that does not.
pub(crate) fn read_dir_lenient(
    dir: &Path,
) -> Result<(Vec<Migration>, Vec<MigrationError>), MigrationError> {
    let mut valid = Vec::new();
    let mut invalid = Vec::new();
    for file in skelly_db_migrate_format::read_dir(dir)? {
        match Migration::new(&file.name, &file.source) {
            Ok(m) => valid.push(m),
            Err(e) => invalid.push(e),
        }
    }
    Ok((into_ordered(valid)?, invalid))
}

/// Reads and checks every top-level `.sql` file of a directory.
pub(crate) fn read_dir(dir: &Path) -> Result<Vec<Migration>, MigrationError> {
    let set = skelly_db_migrate_format::read_dir(dir)?
        .into_iter()
        .map(|file| Migration::new(&file.name, &file.source))
        .collect::<Result<Vec<_>, _>>()?;
    into_ordered(set)
}

impl From<LoadError> for MigrationError {
    fn from(e: LoadError) -> MigrationError {
        match e {
            LoadError::Io { path, source } => MigrationError::Io { path, source },
            LoadError::NotUtf8 { file } => MigrationError::NotUtf8 { file },
            LoadError::Parse {
                file,
                line,
                message,
            } => MigrationError::Parse {
                file: Some(file),
                line,
                message,
            },
            LoadError::MissingDown { file } => MigrationError::MissingDown { file },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_ignores_crlf() {
        assert_eq!(checksum("a\r\nb\n"), checksum("a\nb\n"));
        assert_ne!(checksum("a\nb\n"), checksum("a\nc\n"));
        assert_eq!(checksum("").len(), 64);
    }

    #[test]
    fn a_missing_down_loads_and_is_known() {
        let m = Migration::new("1_a.sql", "-- +migrate Up\nSELECT 1;\n").unwrap();
        assert!(!m.has_down_marker() && m.is_irreversible());
    }

    #[test]
    fn parse_errors_name_file_and_line() {
        let err =
            Migration::new("2_b.sql", "-- +migrate Up\nSELECT 1\n-- +migrate Down\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "2_b.sql: line 2: the statement starting here is not ended by a `;` at the end of a \
             line or a `-- +migrate StatementEnd` marker"
        );
    }

    #[test]
    fn duplicates_are_rejected() {
        let m = Migration::new("1_a.sql", "-- +migrate Up\n-- +migrate Down\n").unwrap();
        let err = into_ordered(vec![m.clone(), m]).unwrap_err();
        assert!(matches!(err, MigrationError::Duplicate { ref id } if id == "1_a.sql"));
    }

    #[test]
    fn empty_down_is_irreversible() {
        let m = Migration::new("1_a.sql", "-- +migrate Up\nSELECT 1;\n-- +migrate Down\n").unwrap();
        assert!(m.is_irreversible());
    }
}
