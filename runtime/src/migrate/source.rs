use std::path::Path;

use sha2::{Digest, Sha256};
use skelly_db_migrate_format::{compare_ids, ParsedMigration};

use super::MigrationError;

/// One migration file: its identity (the file name), checksum and statements.
#[derive(Debug, Clone)]
pub struct Migration {
    id: String,
    checksum: String,
    parsed: ParsedMigration,
}

impl Migration {
    /// Parses and checks one file of a set: the format, and a Down marker.
    pub fn new(id: &str, source: &str) -> Result<Migration, MigrationError> {
        let parsed = skelly_db_migrate_format::parse_migration(source).map_err(|e| {
            MigrationError::Parse {
                file: Some(id.to_string()),
                line: e.line,
                message: e.message,
            }
        })?;
        if !parsed.down.present {
            return Err(MigrationError::MissingDown {
                file: id.to_string(),
            });
        }
        Ok(Migration {
            id: id.to_string(),
            checksum: checksum(source),
            parsed,
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

    /// The parsed statements.
    pub fn parsed(&self) -> &ParsedMigration {
        &self.parsed
    }

    /// Whether the Down section is empty, so the migration cannot be reverted.
    pub fn is_irreversible(&self) -> bool {
        self.parsed.down.statements.is_empty()
    }
}

/// SHA-256 of a file with CRLF normalised to LF, in lowercase hex.
pub(crate) fn checksum(source: &str) -> String {
    let normalised = source.replace("\r\n", "\n");
    let digest = Sha256::digest(normalised.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks a set: no two migrations with one identity; then sorts it the sql-migrate way.
pub(crate) fn into_ordered(mut set: Vec<Migration>) -> Result<Vec<Migration>, MigrationError> {
    set.sort_by(|a, b| compare_ids(&a.id, &b.id));
    if let Some(pair) = set.windows(2).find(|w| w[0].id == w[1].id) {
        return Err(MigrationError::Duplicate {
            id: pair[0].id.clone(),
        });
    }
    Ok(set)
}

/// Reads every top-level `.sql` file of a directory.
pub(crate) fn read_dir(dir: &Path) -> Result<Vec<Migration>, MigrationError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| MigrationError::Io { path, source }
    };
    let mut set = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let path = entry.path();
        let is_file = entry.file_type().map_err(io(&path))?.is_file()
            || std::fs::metadata(&path)
                .map(|m| m.is_file())
                .unwrap_or(false);
        if !is_file || path.extension().and_then(|e| e.to_str()) != Some("sql") {
            continue;
        }
        let name = entry.file_name();
        let Some(id) = name.to_str() else {
            return Err(MigrationError::NotUtf8 {
                file: path.display().to_string(),
            });
        };
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        let source = String::from_utf8(bytes).map_err(|_| MigrationError::NotUtf8 {
            file: id.to_string(),
        })?;
        set.push(Migration::new(id, &source)?);
    }
    into_ordered(set)
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
    fn missing_down_is_an_error_naming_the_file() {
        let err = Migration::new("1_a.sql", "-- +migrate Up\nSELECT 1;\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("1_a.sql: no `-- +migrate Down`"),
            "{err}"
        );
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
