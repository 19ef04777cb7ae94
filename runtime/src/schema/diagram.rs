//! Schema diagrams: tables with their key and foreign-key columns, and the relations between
//! them with their cardinality, as Mermaid (`erDiagram`, rendered by GitHub and GitLab
//! markdown) or Graphviz DOT. Drawn from table shapes: the structs' (`from_dir`) or a live
//! database's (`inspect`).

use std::collections::HashSet;
use std::fmt::Write as _;

use super::shape::{self, TableShape};

/// Which picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiagramFormat {
    /// Mermaid `erDiagram`: paste it in a ```` ```mermaid ```` block.
    Mermaid,
    /// Graphviz DOT: `dot -Tsvg schema.dot > schema.svg`.
    Dot,
}

/// One relation of the picture: a child's foreign key to a parent.
struct Relation<'a> {
    child: &'a TableShape,
    parent: String,
    columns: &'a [String],
    targets: Vec<String>,
    /// Every foreign-key column is NOT NULL: each child has exactly one parent.
    required: bool,
    /// The foreign-key columns are unique in the child: one child per parent at most.
    unique: bool,
}

fn relations(tables: &[TableShape]) -> Vec<Relation<'_>> {
    let keys = shape::key_columns(tables);
    let mut out = Vec::new();
    for child in tables {
        for fk in &child.foreign_keys {
            let parent = format!("{}.{}", fk.target_schema, fk.target_table);
            let targets = match fk.target_columns.is_empty() {
                false => fk.target_columns.clone(),
                true => keys
                    .get(&(fk.target_schema.clone(), fk.target_table.clone()))
                    .cloned()
                    .unwrap_or_default(),
            };
            let required = fk.columns.iter().all(|c| {
                child
                    .columns
                    .iter()
                    .find(|col| &col.name == c)
                    .is_some_and(|col| !col.nullable)
            });
            let same = |columns: &[String]| {
                let a: HashSet<&String> = columns.iter().collect();
                let b: HashSet<&String> = fk.columns.iter().collect();
                a == b
            };
            let unique = child.primary_key.as_ref().is_some_and(|k| same(&k.columns))
                || child
                    .uniques
                    .iter()
                    .any(|u| u.predicate.is_none() && same(&u.columns));
            out.push(Relation {
                child,
                parent,
                columns: &fk.columns,
                targets,
                required,
                unique,
            });
        }
    }
    out
}

// The key markers of a column: PK, FK, UK.
fn markers(table: &TableShape, column: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    if table
        .primary_key
        .as_ref()
        .is_some_and(|k| k.columns.iter().any(|c| c == column))
    {
        out.push("PK");
    }
    if table
        .foreign_keys
        .iter()
        .any(|f| f.columns.iter().any(|c| c == column))
    {
        out.push("FK");
    }
    if table
        .uniques
        .iter()
        .any(|u| u.columns.len() == 1 && u.columns[0] == column)
    {
        out.push("UK");
    }
    out
}

/// The diagram of `tables`: every table with its columns (type, PK / FK / UK), every foreign
/// key between them (and to tables outside the set, drawn as a bare box) with its cardinality —
/// a parent has zero or more children (zero or one when the key columns are unique in the
/// child); a child has exactly one parent along a NOT NULL key, zero or one along a nullable
/// one. Tables are drawn in `schema.table` order, so the output is stable for review.
///
/// ```
/// use skelly_db::schema::{diagram, DiagramFormat, TableShape};
/// use skelly_db::Table;
///
/// #[derive(Table)]
/// #[table(schema = "user")]
/// pub struct User { pub id: uuid::Uuid, pub email: String }
///
/// #[derive(Table)]
/// #[table(schema = "blog")]
/// pub struct Post {
///     pub id: i64,
///     #[table(references = "user.users")]
///     pub author_id: uuid::Uuid,
/// }
///
/// let text = diagram(&[TableShape::of::<User>(), TableShape::of::<Post>()], DiagramFormat::Mermaid);
/// assert!(text.contains(r#"user_users ||--o{ blog_posts : "author_id""#), "{text}");
/// ```
pub fn diagram(tables: &[TableShape], format: DiagramFormat) -> String {
    let mut tables: Vec<&TableShape> = tables.iter().collect();
    tables.sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
    let owned: Vec<TableShape> = tables.iter().map(|t| (*t).clone()).collect();
    let relations = relations(&owned);
    let known: HashSet<String> = owned
        .iter()
        .map(|t| format!("{}.{}", t.schema, t.name))
        .collect();
    // Referenced tables outside the set: drawn as a box with their key columns, when known.
    let mut outside: Vec<&str> = relations
        .iter()
        .map(|r| r.parent.as_str())
        .filter(|p| !known.contains(*p))
        .collect();
    outside.sort();
    outside.dedup();
    match format {
        DiagramFormat::Mermaid => mermaid(&owned, &relations, &outside),
        DiagramFormat::Dot => dot(&owned, &relations, &outside),
    }
}

// `schema.table` as a Mermaid entity name: letters, digits and underscores.
fn entity(qualified: &str) -> String {
    qualified
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

// A column type as one Mermaid word.
fn mermaid_type(sql_type: &str) -> String {
    let mut out = String::new();
    for c in sql_type.chars() {
        match c {
            ' ' => out.push('_'),
            c if c.is_ascii_alphanumeric() || "_()[]-".contains(c) => out.push(c),
            _ => {}
        }
    }
    out
}

fn mermaid(tables: &[TableShape], relations: &[Relation<'_>], outside: &[&str]) -> String {
    let mut out = String::from("erDiagram\n");
    for t in tables {
        let _ = writeln!(
            out,
            "    {} {{",
            entity(&format!("{}.{}", t.schema, t.name))
        );
        for c in &t.columns {
            let keys = markers(t, &c.name);
            let _ = write!(out, "        {} {}", mermaid_type(&c.sql_type), c.name);
            if !keys.is_empty() {
                let _ = write!(out, " {}", keys.join(", "));
            }
            out.push('\n');
        }
        out.push_str("    }\n");
    }
    for parent in outside {
        let _ = writeln!(out, "    {} {{\n    }}", entity(parent));
    }
    for r in relations {
        let parent_side = if r.required { "||" } else { "|o" };
        let child_side = if r.unique { "o|" } else { "o{" };
        let _ = writeln!(
            out,
            "    {} {parent_side}--{child_side} {} : \"{}\"",
            entity(&r.parent),
            entity(&format!("{}.{}", r.child.schema, r.child.name)),
            r.columns.join(", ")
        );
    }
    out
}

// Text inside a DOT record label: its special characters escaped.
fn record_text(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if "{}|<>\"\\".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn dot(tables: &[TableShape], relations: &[Relation<'_>], outside: &[&str]) -> String {
    let mut out = String::from(
        "digraph schema {\n    rankdir=LR;\n    node [shape=record, fontname=\"Helvetica\", fontsize=10];\n    edge [fontname=\"Helvetica\", fontsize=9];\n",
    );
    for t in tables {
        let name = format!("{}.{}", t.schema, t.name);
        let mut rows = Vec::new();
        for c in &t.columns {
            let keys = markers(t, &c.name);
            let mut text = format!("{}: {}", c.name, c.sql_type);
            if !keys.is_empty() {
                text.push_str(&format!(" ({})", keys.join(", ")));
            }
            rows.push(format!("<{}> {}", record_text(&c.name), record_text(&text)));
        }
        let _ = writeln!(
            out,
            "    \"{name}\" [label=\"{{{}|{}\\l}}\"];",
            record_text(&name),
            rows.join("\\l|")
        );
    }
    for parent in outside {
        let _ = writeln!(
            out,
            "    \"{parent}\" [label=\"{}\", style=dashed];",
            record_text(parent)
        );
    }
    for r in relations {
        let child = format!("{}.{}", r.child.schema, r.child.name);
        let head = if r.required { "1" } else { "0..1" };
        let tail = if r.unique { "0..1" } else { "*" };
        let from_port = r
            .columns
            .first()
            .map(|c| format!(":\"{c}\""))
            .unwrap_or_default();
        let to_port = match outside.contains(&r.parent.as_str()) {
            true => String::new(),
            false => r
                .targets
                .first()
                .map(|c| format!(":\"{c}\""))
                .unwrap_or_default(),
        };
        let _ = writeln!(
            out,
            "    \"{child}\"{from_port} -> \"{}\"{to_port} [label=\"{}\", taillabel=\"{tail}\", headlabel=\"{head}\"];",
            r.parent,
            r.columns.join(", ")
        );
    }
    out.push_str("}\n");
    out
}
