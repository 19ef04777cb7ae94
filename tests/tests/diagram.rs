//! `schema::diagram`: Mermaid and DOT pictures of table shapes (pure: no database), and the
//! CLI's diagram of a live database in `cli/tests`.

use skelly_db::schema::{diagram, DiagramFormat, TableShape};
use skelly_db::Table;

/// A user, with a unique email.
#[derive(Table)]
#[table(schema = "user", name = "users")]
pub struct User {
    pub id: uuid::Uuid,
    #[table(unique)]
    pub email: String,
}

/// An employee and the employee they report to: a self-reference, nullable.
#[derive(Table)]
#[table(schema = "hr", name = "employees")]
pub struct Employee {
    pub id: i64,
    #[table(references = "hr.employees")]
    pub manager_id: Option<i64>,
    #[table(references = "user.users", unique)]
    pub user_id: uuid::Uuid,
}

/// A watcher: a composite key.
#[derive(Table)]
#[table(schema = "docs", name = "watchers")]
pub struct Watcher {
    #[table(primary_key)]
    pub document_id: uuid::Uuid,
    #[table(primary_key)]
    pub customer: String,
}

/// Events of a watcher: a composite foreign key to its key, and a key to a table outside the
/// set.
#[derive(Table)]
#[table(schema = "docs", name = "events")]
#[table(foreign_key(columns(document_id, customer), references = "docs.watchers"))]
pub struct Event {
    pub id: i64,
    pub document_id: uuid::Uuid,
    pub customer: String,
    #[table(references = "billing.accounts(code)")]
    pub account: Option<String>,
}

fn shapes() -> Vec<TableShape> {
    vec![
        TableShape::of::<Event>(),
        TableShape::of::<User>(),
        TableShape::of::<Watcher>(),
        TableShape::of::<Employee>(),
    ]
}

#[test]
fn mermaid_draws_keys_and_cardinalities() {
    let text = diagram(&shapes(), DiagramFormat::Mermaid);
    let expected = r#"erDiagram
    docs_events {
        bigint id PK
        uuid document_id FK
        text customer FK
        text account FK
    }
    docs_watchers {
        uuid document_id PK
        text customer PK
    }
    hr_employees {
        bigint id PK
        bigint manager_id FK
        uuid user_id FK, UK
    }
    user_users {
        uuid id PK
        text email UK
    }
    billing_accounts {
    }
    billing_accounts |o--o{ docs_events : "account"
    docs_watchers ||--o{ docs_events : "document_id, customer"
    hr_employees |o--o{ hr_employees : "manager_id"
    user_users ||--o| hr_employees : "user_id"
"#;
    assert_eq!(text, expected);
}

#[test]
fn dot_draws_records_ports_and_cardinalities() {
    let text = diagram(&shapes(), DiagramFormat::Dot);
    assert!(
        text.starts_with("digraph schema {\n    rankdir=LR;"),
        "{text}"
    );
    assert!(
        text.contains(r#""docs.watchers" [label="{docs.watchers|<document_id> document_id: uuid (PK)\l|<customer> customer: text (PK)\l}"];"#),
        "{text}"
    );
    // The composite key from its first column to the parent's key; one parent, many events.
    assert!(
        text.contains(r#""docs.events":"document_id" -> "docs.watchers":"document_id" [label="document_id, customer", taillabel="*", headlabel="1"];"#),
        "{text}"
    );
    // A self-reference, nullable: zero or one manager.
    assert!(
        text.contains(r#""hr.employees":"manager_id" -> "hr.employees":"id" [label="manager_id", taillabel="*", headlabel="0..1"];"#),
        "{text}"
    );
    // A unique foreign key: at most one employee per user.
    assert!(
        text.contains(r#""hr.employees":"user_id" -> "user.users":"id" [label="user_id", taillabel="0..1", headlabel="1"];"#),
        "{text}"
    );
    // A table outside the set: a dashed box, no port.
    assert!(
        text.contains(r#""billing.accounts" [label="billing.accounts", style=dashed];"#),
        "{text}"
    );
    assert!(
        text.contains(r#""docs.events":"account" -> "billing.accounts" ["#),
        "{text}"
    );
    assert!(text.ends_with("}\n"));
}
