//! Reading a migration directory and checking each file: shared by the runtime's
//! `Migrator::from_dir` and the `embed_migrations!` macro, so both accept exactly the same sets.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::{compare_ids, ParsedMigration};

/// One `.sql` file of a migration directory.
#[derive(Debug, Clone)]
pub struct MigrationFile {
    /// The file name: the migration's identity.
    pub name: String,
    /// Where it was read from.
    pub path: PathBuf,
    /// Its contents.
    pub source: String,
}

/// Why a directory or a file could not be used.
#[derive(Debug)]
pub enum LoadError {
    /// The directory or a file could not be read.
    Io {
        /// What could not be read.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file name or a file's contents are not UTF-8.
    NotUtf8 {
        /// The file (its name, or its path when the name is not UTF-8).
        file: String,
    },
    /// The file does not follow the format.
    Parse {
        /// The file name.
        file: String,
        /// The 1-based line.
        line: usize,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The file has no `-- +migrate Down` marker.
    MissingDown {
        /// The file name.
        file: String,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Io { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            LoadError::NotUtf8 { file } => {
                write!(
                    f,
                    "{file} is not valid UTF-8; migrations must be UTF-8 text"
                )
            }
            LoadError::Parse {
                file,
                line,
                message,
            } => write!(f, "{file}: line {line}: {message}"),
            LoadError::MissingDown { file } => write!(
                f,
                "{file}: no Down section (`-- +migrate Down`, or `-- +goose Down` in a goose file); \
                 add one (an empty Down section marks the \
                 migration irreversible)"
            ),
        }
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LoadError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Every top-level `.sql` file of `dir` (symbolic links followed), and every goose Go
/// migration (`00003_backfill.go`, see [`is_go_migration`](crate::is_go_migration)), read, in
/// migration order.
pub fn read_dir(dir: &Path) -> Result<Vec<MigrationFile>, LoadError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| LoadError::Io { path, source }
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let path = entry.path();
        let go = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(crate::is_go_migration);
        if !(path.extension().and_then(|e| e.to_str()) == Some("sql") || go) || !path.is_file() {
            continue;
        }
        let name = entry
            .file_name()
            .into_string()
            .map_err(|_| LoadError::NotUtf8 {
                file: path.display().to_string(),
            })?;
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        let source =
            String::from_utf8(bytes).map_err(|_| LoadError::NotUtf8 { file: name.clone() })?;
        files.push(MigrationFile { name, path, source });
    }
    files.sort_by(|a, b| compare_ids(&a.name, &b.name));
    Ok(files)
}

/// Parses one file of a set and applies the set's rule: a Down marker is required (an empty
/// Down section marks the migration irreversible).
pub fn check_file(name: &str, source: &str) -> Result<ParsedMigration, LoadError> {
    let parse_error = |e: crate::ParseError| LoadError::Parse {
        file: name.to_string(),
        line: e.line,
        message: e.message,
    };
    if crate::is_go_migration(name) {
        return Ok(crate::go_migration());
    }
    // The environment is the one the migrations run in, not this one: goose's `ENVSUB ON`
    // expansions are checked for their form here, with every variable set and empty.
    let parsed =
        crate::parse_any_with_env(source, &|_| Some(String::new())).map_err(parse_error)?;
    if crate::is_goose(source) {
        crate::check_goose_name(name).map_err(parse_error)?;
    }
    if !parsed.down.present {
        return Err(LoadError::MissingDown {
            file: name.to_string(),
        });
    }
    Ok(parsed)
}
