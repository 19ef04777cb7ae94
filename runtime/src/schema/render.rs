//! `#[derive(Table)]` structs written from tables as the catalog has them: what `skelly-db
//! schema pull` prints for an existing schema, and what the real-schema measurement reads back
//! (through the source reader) and checks against the database it came from.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

use super::normalize::{canonical_condition, canonical_default, canonical_type};
use super::shape::{ColumnShape, IndexShape, TableShape};

/// Structs rendered from catalog shapes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    /// The Rust source: text enums first, then one struct per table.
    pub source: String,
    /// Per table (`schema.table`), what its struct could not state: an identity column outside a
    /// single-column key. The schema check reports these.
    pub left_out: BTreeMap<String, Vec<String>>,
    /// Per table, the columns typed by `sql_type` because no Rust type maps them (a
    /// `numeric(p, s)` precision is not counted: `sql_type` is the way to state it).
    pub sql_types: BTreeMap<String, Vec<String>>,
}

/// Writes a `#[derive(Table)]` struct for each table (and a `#[derive(TextEnum)]` enum for each
/// enum type and each text column a `col IN (...)` CHECK limits), stating keys, defaults,
/// uniques, indexes, checks and foreign keys so that the schema check finds the table as the
/// struct says it. What cannot be stated is listed in [`Rendered::left_out`].
///
/// ```
/// use skelly_db::schema::{render_structs, TableShape};
/// # #[derive(skelly_db::Table)]
/// # #[table(schema = "shop")]
/// # pub struct Customer { pub id: i64, #[table(varchar = 320, unique)] pub email: String }
/// // Usually the shape comes from `schema::inspect` on a database.
/// let shape = TableShape::of::<Customer>();
/// let rendered = render_structs(&[shape]);
/// assert!(rendered.source.contains("pub struct Customer {"));
/// assert!(rendered.source.contains("#[table(unique, varchar = 320)]"));
/// ```
pub fn render_structs(tables: &[TableShape]) -> Rendered {
    let mut out = Rendered::default();
    let mut source = String::new();
    let mut enums = String::new();
    let mut enum_names: BTreeMap<String, String> = BTreeMap::new();
    let mut used_names: HashSet<String> = HashSet::new();
    // Native enum types, one Rust enum each.
    for table in tables {
        for e in &table.enums {
            let key = canonical_type(&e.name);
            if enum_names.contains_key(&key) {
                continue;
            }
            let base = key.rsplit('.').next().unwrap_or(&key).to_string();
            let name = free_name(&pascal(&base), &mut used_names);
            let pg = pg_enum_name(&key);
            let _ = write!(
                enums,
                "\n#[derive(TextEnum, Debug, Clone, Copy, PartialEq, Eq)]\n#[text_enum(pg_enum = \"{}\")]\n",
                escape(&pg)
            );
            enums.push_str(&variants(&name, &e.values));
            enum_names.insert(key, name);
        }
    }
    let struct_names: Vec<String> = tables
        .iter()
        .map(|t| {
            let clash = tables
                .iter()
                .filter(|o| singular(&o.name) == singular(&t.name))
                .count()
                > 1;
            let base = if clash {
                format!("{}_{}", t.schema, singular(&t.name))
            } else {
                singular(&t.name)
            };
            free_name(&pascal(&base), &mut used_names)
        })
        .collect();
    for (table, name) in tables.iter().zip(&struct_names) {
        let label = format!("{}.{}", table.schema, table.name);
        let mut left_out = Vec::new();
        let mut sql_types = Vec::new();
        let text = render_table(
            table,
            name,
            &enum_names,
            &mut used_names,
            &mut enums,
            &mut left_out,
            &mut sql_types,
        );
        source.push_str(&text);
        if !left_out.is_empty() {
            out.left_out.insert(label.clone(), left_out);
        }
        if !sql_types.is_empty() {
            out.sql_types.insert(label, sql_types);
        }
    }
    out.source = format!("use skelly_db::{{Table, TextEnum}};\n{enums}{source}");
    out
}

/// One table's struct.
fn render_table(
    t: &TableShape,
    name: &str,
    enum_names: &BTreeMap<String, String>,
    used_names: &mut HashSet<String>,
    enums: &mut String,
    left_out: &mut Vec<String>,
    sql_types: &mut Vec<String>,
) -> String {
    let key: Vec<&str> = t
        .primary_key
        .as_ref()
        .map(|k| k.columns.iter().map(String::as_str).collect())
        .unwrap_or_default();
    let deleted_at = t
        .columns
        .iter()
        .find(|c| c.name == "deleted_at")
        .is_some_and(|c| c.nullable && canonical_type(&c.sql_type).starts_with("timestamp"));
    let soft = deleted_at.then(|| "deleted_at IS NULL".to_string());
    let soft_canonical = soft.as_deref().map(canonical_condition);
    let mut container: Vec<String> = vec![format!(
        "schema = \"{}\", name = \"{}\"",
        escape(&t.schema),
        escape(&t.name)
    )];
    if key.is_empty() {
        container.push("no_primary_key".into());
    }
    if t.unlogged {
        container.push("unlogged".into());
    }
    let mut items: Vec<String> = Vec::new();
    let mut field_attrs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut field_types: BTreeMap<String, String> = BTreeMap::new();
    let attrs = |field_attrs: &mut BTreeMap<String, Vec<String>>, column: &str, attr: String| {
        field_attrs
            .entry(column.to_string())
            .or_default()
            .push(attr);
    };

    // Text enums from `col IN (...)` checks on text columns, named as the derive names them.
    let mut enum_checks: HashSet<&str> = HashSet::new();
    for check in &t.checks {
        let (Some(values), [column]) = (&check.allowed, check.columns.as_slice()) else {
            continue;
        };
        let Some(c) = t.columns.iter().find(|c| &c.name == column) else {
            continue;
        };
        let ty = canonical_type(&c.sql_type);
        if check.name != format!("{}_{}_check", t.name, c.name) || !(ty == "text" || ty == "text[]")
        {
            continue;
        }
        let enum_name = free_name(
            &pascal(&format!("{}_{}", singular(&t.name), c.name)),
            used_names,
        );
        enums.push_str("\n#[derive(TextEnum, Debug, Clone, Copy, PartialEq, Eq)]\n");
        enums.push_str(&variants(&enum_name, values));
        let rust = if ty.ends_with("[]") {
            format!("Vec<{enum_name}>")
        } else {
            enum_name
        };
        field_types.insert(c.name.clone(), rust);
        enum_checks.insert(check.name.as_str());
    }

    // Foreign keys: one column each on its field; a composite one cannot be stated.
    let mut fk_columns: HashSet<&str> = HashSet::new();
    for fk in &t.foreign_keys {
        let [column] = fk.columns.as_slice() else {
            // Several columns: on the struct.
            let fields: Vec<String> = fk.columns.iter().map(|c| field_name(c).0).collect();
            let mut item = format!(
                "foreign_key(columns({}), references = \"{}.{}({})\"",
                fields.join(", "),
                escape(&fk.target_schema),
                escape(&fk.target_table),
                escape(&fk.target_columns.join(", "))
            );
            if let Some(a) = &fk.on_delete {
                let _ = write!(item, ", on_delete = \"{a}\"");
            }
            if let Some(a) = &fk.on_update {
                let _ = write!(item, ", on_update = \"{a}\"");
            }
            if fk.deferrable {
                item.push_str(", deferrable");
            }
            let covered = t
                .primary_key
                .iter()
                .map(|k| &k.columns)
                .chain(t.uniques.iter().map(|u| &u.columns))
                .any(|c| c.starts_with(&fk.columns));
            let served = t
                .indexes
                .iter()
                .chain(&t.uniques)
                .any(|i| is_plain(i) && i.columns.starts_with(&fk.columns));
            if !covered && !served {
                item.push_str(", no_index");
            }
            if fk.name != format!("{}_{}_fkey", t.name, fk.columns.join("_")) {
                let _ = write!(item, ", name = \"{}\"", escape(&fk.name));
            }
            item.push(')');
            items.push(item);
            continue;
        };
        fk_columns.insert(column.as_str());
        let mut attr = format!(
            "references = \"{}.{}({})\"",
            escape(&fk.target_schema),
            escape(&fk.target_table),
            escape(&fk.target_columns.join(","))
        );
        if let Some(a) = &fk.on_delete {
            let _ = write!(attr, ", on_delete = \"{a}\"");
        }
        if let Some(a) = &fk.on_update {
            let _ = write!(attr, ", on_update = \"{a}\"");
        }
        if fk.deferrable {
            attr.push_str(", deferrable");
        }
        // Its index: the derive's `<table>_<column>_idx`, any plain index leading with it, or
        // none.
        let served = t
            .indexes
            .iter()
            .chain(&t.uniques)
            .any(|i| is_plain(i) && i.columns.first() == Some(column));
        let leads_key = key.first() == Some(&column.as_str());
        if !served && !leads_key {
            attr.push_str(", no_index");
        }
        attrs(&mut field_attrs, column, attr);
    }

    // Uniques: a column's own where the derive would name and shape it so; the rest on the
    // struct.
    for u in &t.uniques {
        let predicate = u.predicate.as_deref().map(canonical_condition);
        let on_one_plain =
            matches!(u.columns.as_slice(), [c] if is_column(t, c)) && is_plain_unique(u);
        let default_name = format!("{}_{}_key", t.name, u.columns.join("_"));
        let live_only = predicate.is_some() && predicate == soft_canonical;
        let mut modifiers = Vec::new();
        if u.nulls_not_distinct {
            modifiers.push("nulls_not_distinct".to_string());
        }
        // The column's own `unique` (a live-rows condition only on a soft-delete table).
        if on_one_plain && u.name == default_name && (predicate.is_none() || live_only) {
            let mut attr = "unique".to_string();
            if deleted_at && predicate.is_none() {
                attr.push_str(", all_rows");
            }
            for m in &modifiers {
                let _ = write!(attr, ", {m}");
            }
            attrs(&mut field_attrs, &u.columns[0], attr);
            continue;
        }
        let all_columns = u.columns.iter().all(|c| is_column(t, c));
        let mut parts: Vec<String> = u.columns.iter().map(|c| part(t, c)).collect();
        if all_columns && u.using.is_none() && u.include.is_empty() {
            // unique(a, b, ...): named `<table>_a_b_key` unless said.
            if u.name != default_name {
                parts.push(format!("name = \"{}\"", escape(&u.name)));
            }
            match (&predicate, live_only) {
                (None, _) if deleted_at => parts.push("all_rows".into()),
                (Some(_), false) => parts.push(format!(
                    "where = \"{}\"",
                    escape(u.predicate.as_deref().unwrap_or_default())
                )),
                _ => {}
            }
            parts.extend(modifiers);
            items.push(format!("unique({})", parts.join(", ")));
        } else {
            items.push(index_item(t, u, true, &soft_canonical, deleted_at));
        }
    }

    // Indexes: a column's own where the derive would make it; the rest on the struct.
    for i in &t.indexes {
        let composite_own = t.foreign_keys.iter().any(|fk| {
            fk.columns.len() > 1
                && fk.columns == i.columns
                && i.name == format!("{}_{}_idx", t.name, fk.columns.join("_"))
        });
        if composite_own && is_plain(i) {
            continue;
        }
        if let [c] = i.columns.as_slice() {
            if is_column(t, c) && is_plain(i) {
                let own = format!("{}_{c}_idx", t.name);
                if fk_columns.contains(c.as_str()) {
                    // The foreign key declares it (by name, or served by shape).
                    if i.name == own {
                        continue;
                    }
                } else if i.name == own {
                    attrs(&mut field_attrs, c, "index".into());
                    continue;
                }
            }
        }
        items.push(index_item(t, i, false, &soft_canonical, deleted_at));
    }

    // Checks other than the text enums'.
    for check in &t.checks {
        if enum_checks.contains(check.name.as_str()) {
            continue;
        }
        // Always named: the derive names a check after the first column its condition mentions,
        // which the catalog's column order may not tell.
        let mut item = format!("check(expr = \"{}\"", escape(&check.expression));
        let _ = write!(item, ", name = \"{}\"", escape(&check.name));
        item.push(')');
        items.push(item);
    }

    let mut text = String::new();
    text.push_str("\n#[derive(Table, Debug, Clone, PartialEq)]\n");
    let _ = writeln!(text, "#[table({})]", container.join(", "));
    for item in &items {
        let _ = writeln!(text, "#[table({item})]");
    }
    let _ = writeln!(text, "pub struct {name} {{");
    let composite = key.len() > 1;
    // A composite key's parts in key order (the derive reads the key in field order), then the
    // other columns in table order.
    let key_columns = key
        .iter()
        .filter_map(|k| t.columns.iter().find(|c| c.name == *k));
    let rest = t.columns.iter().filter(|c| !key.contains(&c.name.as_str()));
    for c in key_columns.chain(rest) {
        let mut attr: Vec<String> = field_attrs.remove(&c.name).unwrap_or_default();
        let (field, rename) = field_name(&c.name);
        if let Some(rename) = rename {
            attr.insert(0, format!("rename = \"{}\"", escape(&rename)));
        }
        let base = match field_types.get(&c.name) {
            Some(enum_type) => enum_type.clone(),
            None => {
                let (ty, type_attr, mapped) = rust_type(&c.sql_type, enum_names);
                if let Some(a) = type_attr {
                    attr.push(a);
                }
                if !mapped {
                    sql_types.push(format!("{} {}", c.name, c.sql_type));
                }
                ty
            }
        };
        let in_key = key.contains(&c.name.as_str());
        let foreign = fk_columns.contains(c.name.as_str());
        role_attrs(c, in_key, composite, foreign, &base, &mut attr, left_out);
        let ty = if c.nullable {
            format!("Option<{base}>")
        } else {
            base
        };
        if !attr.is_empty() {
            let _ = writeln!(text, "    #[table({})]", attr.join(", "));
        }
        let _ = writeln!(text, "    pub {field}: {ty},");
    }
    text.push_str("}\n");
    text
}

/// The key, convention and default attributes of a column.
fn role_attrs(
    c: &ColumnShape,
    in_key: bool,
    composite: bool,
    foreign: bool,
    rust: &str,
    attr: &mut Vec<String>,
    left_out: &mut Vec<String>,
) {
    if c.generated {
        let expression = c.default.as_deref().unwrap_or_default();
        attr.push(format!("generated = \"{}\"", escape(expression)));
        if matches!(
            c.name.as_str(),
            "id" | "created_at" | "updated_at" | "deleted_at"
        ) {
            attr.insert(0, "plain".into());
        }
        return;
    }
    let default = c.default.as_deref().map(canonical_default);
    let integer = matches!(rust, "i16" | "i32" | "i64");
    let uuid = rust == "uuid::Uuid";
    let by_convention = matches!(c.name.as_str(), "created_at" | "updated_at");
    if in_key {
        // `id` alone is the key by convention; any other key column is marked.
        if c.name != "id" || composite {
            attr.insert(0, "primary_key".into());
        }
        if composite && c.identity {
            left_out.push(format!("identity column `{}` in a composite key", c.name));
        }
        let derive_default = !composite && !foreign && uuid;
        let derive_identity = !composite && !foreign && integer;
        match (&c.default, c.identity) {
            (_, true) if derive_identity => {}
            (Some(_), _) if derive_default && default.as_deref() == Some("gen_random_uuid()") => {}
            (Some(d), _) => attr.push(format!("default = \"{}\"", escape(d))),
            (None, false) if (derive_default || derive_identity) => attr.push("supplied".into()),
            _ => {}
        }
        return;
    }
    let convention_holds = match c.name.as_str() {
        "created_at" | "updated_at" => {
            default.as_deref() == Some("now()")
                && canonical_type(&c.sql_type).starts_with("timestamp")
        }
        "deleted_at" => {
            c.default.is_none()
                && c.nullable
                && canonical_type(&c.sql_type).starts_with("timestamp")
        }
        _ => true,
    };
    if !convention_holds || (by_convention && c.identity) {
        attr.push("plain".into());
    }
    let convention_default = by_convention && convention_holds;
    if let (Some(d), false) = (&c.default, convention_default) {
        attr.push(format!("default = \"{}\"", escape(d)));
    }
    if c.identity {
        left_out.push(format!("identity column `{}` outside the key", c.name));
    }
}

/// `(rust type, attribute, mapped without sql_type)` of a column type.
fn rust_type(
    sql_type: &str,
    enum_names: &BTreeMap<String, String>,
) -> (String, Option<String>, bool) {
    let canonical = canonical_type(sql_type);
    if let Some(name) = enum_names.get(&canonical) {
        return (name.clone(), None, true);
    }
    if let Some(element) = canonical.strip_suffix("[]") {
        if let Some(name) = enum_names.get(element) {
            return (format!("Vec<{name}>"), None, true);
        }
        if let Some(t) = scalar(element) {
            if t != "Vec<u8>" && !element.contains('(') {
                return (format!("Vec<{t}>"), None, true);
            }
        }
        // varchar(n)[] and char(n)[]: a Vec<String> with the length.
        for (prefix, key) in [("character varying(", "varchar"), ("character(", "char")] {
            if let Some(n) = element
                .strip_prefix(prefix)
                .and_then(|r| r.strip_suffix(')'))
            {
                return ("Vec<String>".into(), Some(format!("{key} = {n}")), true);
            }
        }
        if element == "character varying" {
            return ("Vec<String>".into(), Some("varchar".into()), true);
        }
        let base = match element {
            e if e.starts_with("character varying") || e.starts_with("character") => {
                "Vec<String>".to_string()
            }
            e if e.starts_with("numeric") => "Vec<rust_decimal::Decimal>".to_string(),
            _ => "String".to_string(),
        };
        return (
            base,
            Some(format!("sql_type = \"{}\"", escape(&canonical))),
            false,
        );
    }
    if let Some(n) = canonical
        .strip_prefix("character varying(")
        .and_then(|r| r.strip_suffix(')'))
    {
        return ("String".into(), Some(format!("varchar = {n}")), true);
    }
    if canonical == "character varying" {
        return ("String".into(), Some("varchar".into()), true);
    }
    if let Some(n) = canonical
        .strip_prefix("character(")
        .and_then(|r| r.strip_suffix(')'))
    {
        return ("String".into(), Some(format!("char = {n}")), true);
    }
    if canonical == "json" {
        return ("serde_json::Value".into(), Some("json".into()), true);
    }
    if canonical == "ltree" {
        return ("String".into(), Some("ltree".into()), true);
    }
    if canonical.starts_with("numeric(") {
        // The precision is stated through sql_type, as the README shows.
        return (
            "rust_decimal::Decimal".into(),
            Some(format!("sql_type = \"{}\"", escape(&canonical))),
            true,
        );
    }
    match scalar(&canonical) {
        Some(t) => (t.to_string(), None, true),
        None => (
            "String".into(),
            Some(format!("sql_type = \"{}\"", escape(&canonical))),
            false,
        ),
    }
}

/// The Rust type of a scalar SQL type the derive maps without attributes.
fn scalar(canonical: &str) -> Option<&'static str> {
    Some(match canonical {
        "uuid" => "uuid::Uuid",
        "text" => "String",
        "boolean" => "bool",
        "smallint" => "i16",
        "integer" => "i32",
        "bigint" => "i64",
        "real" => "f32",
        "double precision" => "f64",
        "timestamp with time zone" => "chrono::DateTime<chrono::Utc>",
        "timestamp without time zone" => "chrono::NaiveDateTime",
        "date" => "chrono::NaiveDate",
        "time without time zone" => "chrono::NaiveTime",
        "inet" => "std::net::IpAddr",
        "numeric" => "rust_decimal::Decimal",
        "bytea" => "Vec<u8>",
        "jsonb" => "serde_json::Value",
        _ => return None,
    })
}

/// `index(...)` (or `index(..., unique)`) on the struct for an index the columns cannot state.
fn index_item(
    t: &TableShape,
    i: &IndexShape,
    unique: bool,
    soft: &Option<String>,
    deleted_at: bool,
) -> String {
    let mut parts: Vec<String> = i.columns.iter().map(|c| part(t, c)).collect();
    let named: Vec<String> = i
        .columns
        .iter()
        .map(|c| {
            if is_column(t, c) {
                c.clone()
            } else {
                "expr".into()
            }
        })
        .collect();
    let default_name = format!("{}_{}_{}", t.name, named.join("_"), "idx");
    if let Some(using) = &i.using {
        parts.push(format!("using = \"{}\"", escape(using)));
    }
    if !i.include.is_empty() {
        let include: Vec<String> = i.include.iter().map(|c| field_name(c).0).collect();
        parts.push(format!("include({})", include.join(", ")));
    }
    let predicate = i.predicate.as_deref().map(canonical_condition);
    match &i.predicate {
        // A unique index without a condition on a soft-delete table is over all rows.
        None if unique && deleted_at => parts.push("all_rows".into()),
        Some(p) if !(unique && predicate == *soft) => {
            parts.push(format!("where = \"{}\"", escape(p)))
        }
        _ => {}
    }
    if unique {
        parts.push("unique".into());
        if i.nulls_not_distinct {
            parts.push("nulls_not_distinct".into());
        }
    }
    if i.name != default_name {
        parts.push(format!("name = \"{}\"", escape(&i.name)));
    }
    format!("index({})", parts.join(", "))
}

/// A key part: a column by its field name, an expression as written.
fn part(t: &TableShape, c: &str) -> String {
    if is_column(t, c) {
        let (field, rename) = field_name(c);
        if rename.is_none() && !is_keyword(&field) {
            return field;
        }
    }
    format!("expr = \"{}\"", escape(c))
}

/// A column of the table (its field's name stands for it in an index).
fn is_column(t: &TableShape, name: &str) -> bool {
    t.columns.iter().any(|c| c.name == name)
}

fn is_plain(i: &IndexShape) -> bool {
    i.predicate.is_none() && i.using.is_none() && i.include.is_empty()
}

fn is_plain_unique(i: &IndexShape) -> bool {
    i.using.is_none() && i.include.is_empty()
}

/// The field for a column: its name when it is one (`r#type` for a keyword), else a cleaned
/// name and the column to rename to.
fn field_name(column: &str) -> (String, Option<String>) {
    let ident_like = !column.is_empty()
        && column
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !column.starts_with(|c: char| c.is_ascii_digit());
    if ident_like {
        return match column {
            "self" | "super" | "crate" | "_" => (format!("{column}_"), Some(column.to_string())),
            k if is_keyword(k) => (format!("r#{k}"), None),
            _ => (column.to_string(), None),
        };
    }
    let mut field: String = column
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if field.is_empty() || field.starts_with(|c: char| c.is_ascii_digit()) {
        field.insert(0, 'c');
    }
    if is_keyword(&field) {
        field.push('_');
    }
    (field, Some(column.to_string()))
}

fn is_keyword(word: &str) -> bool {
    matches!(
        word,
        "as" | "break"
            | "const"
            | "continue"
            | "crate"
            | "else"
            | "enum"
            | "extern"
            | "false"
            | "fn"
            | "for"
            | "if"
            | "impl"
            | "in"
            | "let"
            | "loop"
            | "match"
            | "mod"
            | "move"
            | "mut"
            | "pub"
            | "ref"
            | "return"
            | "self"
            | "static"
            | "struct"
            | "super"
            | "trait"
            | "true"
            | "type"
            | "unsafe"
            | "use"
            | "where"
            | "while"
            | "async"
            | "await"
            | "dyn"
            | "abstract"
            | "become"
            | "box"
            | "do"
            | "final"
            | "macro"
            | "override"
            | "priv"
            | "typeof"
            | "unsized"
            | "virtual"
            | "yield"
            | "try"
            | "gen"
    )
}

/// `enum Name { A, B, #[text_enum(rename = "c-d")] CD }`, a rename where the variant's
/// snake_case is not the value.
fn variants(name: &str, values: &[String]) -> String {
    let mut out = format!("pub enum {name} {{\n");
    let mut used = HashSet::new();
    for value in values {
        let variant = free_name(&pascal(value), &mut used);
        if !round_trips(value) {
            let _ = writeln!(out, "    #[text_enum(rename = \"{}\")]", escape(value));
        }
        let _ = writeln!(out, "    {variant},");
    }
    out.push_str("}\n");
    out
}

/// Whether a text enum's default text for the PascalCase variant of `value` is `value` itself:
/// lowercase words of letters joined by `_`. Anything else gets a `rename`.
fn round_trips(value: &str) -> bool {
    !value.is_empty()
        && value
            .split('_')
            .all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase()))
}

/// `name`, or `name2`, `name3`, ... when taken.
fn free_name(name: &str, used: &mut HashSet<String>) -> String {
    let mut candidate = name.to_string();
    let mut n = 2;
    while !used.insert(candidate.clone()) {
        candidate = format!("{name}{n}");
        n += 1;
    }
    candidate
}

/// PascalCase of `snake_case`-ish text, always a valid identifier.
fn pascal(text: &str) -> String {
    let mut out = String::new();
    let mut upper = true;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            if upper {
                out.push(c.to_ascii_uppercase());
            } else {
                out.push(c);
            }
            upper = false;
        } else {
            upper = true;
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'V');
    }
    out
}

/// A table's name as one row of it: `users` → `user`, `addresses` → `address`.
fn singular(table: &str) -> String {
    if let Some(stem) = table.strip_suffix("ies") {
        return format!("{stem}y");
    }
    if table.ends_with("sses") || table.ends_with("xes") || table.ends_with("ches") {
        return table[..table.len() - 2].to_string();
    }
    if table.ends_with('s') && !table.ends_with("ss") && table.len() > 1 {
        return table[..table.len() - 1].to_string();
    }
    table.to_string()
}

/// `schema.type` as `pg_enum` takes it.
fn pg_enum_name(canonical: &str) -> String {
    if canonical.contains('.') {
        canonical.to_string()
    } else {
        format!("public.{canonical}")
    }
}

/// Text for inside a Rust string literal.
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}
