//! The SQL the query builder generates (no database): operators, combinations, ordering,
//! paging and soft-delete scopes.

mod common;

use common::models::{Role, User};
use skelly_db::{Table, TextEnum};

#[derive(Table)]
pub struct Tag {
    pub id: uuid::Uuid,
    pub name: String,
    pub weight: Option<i32>,
}

const USER_COLUMNS: &str = "\"id\", \"email\", \"display_name\", \"role\", \"bio\", \"created_at\", \"updated_at\", \"deleted_at\"";

fn select(rest: &str) -> String {
    format!("SELECT {USER_COLUMNS} FROM \"user\".\"users\"{rest}")
}

#[test]
fn every_operator() {
    let cases = [
        (User::EMAIL.eq("a"), "\"email\" = $1"),
        (User::EMAIL.ne("a"), "\"email\" <> $1"),
        (
            User::CREATED_AT.lt(chrono::Utc::now()),
            "\"created_at\" < $1",
        ),
        (
            User::CREATED_AT.le(chrono::Utc::now()),
            "\"created_at\" <= $1",
        ),
        (
            User::CREATED_AT.gt(chrono::Utc::now()),
            "\"created_at\" > $1",
        ),
        (
            User::CREATED_AT.ge(chrono::Utc::now()),
            "\"created_at\" >= $1",
        ),
        (User::BIO.is_null(), "\"bio\" IS NULL"),
        (User::BIO.is_not_null(), "\"bio\" IS NOT NULL"),
        (
            User::ROLE.is_in([Role::Admin, Role::Member]),
            "\"role\" = ANY($1)",
        ),
        (User::ROLE.is_in(Vec::<Role>::new()), "FALSE"),
        (User::EMAIL.like("a%"), "\"email\" LIKE $1"),
        (User::BIO.ilike("%x%"), "\"bio\" ILIKE $1"),
        (User::EMAIL.eq("a").not(), "NOT (\"email\" = $1)"),
        (!User::BIO.is_null(), "NOT (\"bio\" IS NULL)"),
    ];
    for (expr, condition) in cases {
        assert_eq!(
            User::query().filter(expr).to_sql(),
            select(&format!(" WHERE {condition} AND \"deleted_at\" IS NULL"))
        );
    }
}

#[test]
fn combinations_number_placeholders_in_order() {
    let q = User::query().filter(
        User::EMAIL
            .eq("a")
            .and(User::ROLE.ne(Role::ReadOnly).or(User::BIO.eq("x")))
            .and(User::DISPLAY_NAME.is_in(["p", "q"])),
    );
    assert_eq!(
        q.to_sql(),
        select(" WHERE ((\"email\" = $1 AND (\"role\" <> $2 OR \"bio\" = $3)) AND \"display_name\" = ANY($4)) AND \"deleted_at\" IS NULL")
    );
    // Successive filters AND together.
    let q = User::query()
        .filter(User::EMAIL.eq("a"))
        .filter(User::ROLE.eq(Role::Admin));
    assert_eq!(
        q.to_sql(),
        select(" WHERE (\"email\" = $1 AND \"role\" = $2) AND \"deleted_at\" IS NULL")
    );
}

#[test]
fn ordering_and_paging_are_parameters() {
    let q = User::query()
        .filter(User::ROLE.eq(Role::Admin))
        .order_by(User::CREATED_AT.desc())
        .order_by(User::EMAIL.asc())
        .limit(20)
        .offset(40);
    assert_eq!(
        q.to_sql(),
        select(" WHERE \"role\" = $1 AND \"deleted_at\" IS NULL ORDER BY \"user\".\"users\".\"created_at\" DESC, \"user\".\"users\".\"email\" ASC LIMIT $2 OFFSET $3")
    );
    // Same shape, other values: the same text, so the statement cache hits.
    let other = User::query()
        .filter(User::ROLE.eq(Role::Member))
        .order_by(User::CREATED_AT.desc())
        .order_by(User::EMAIL.asc())
        .limit(5)
        .offset(0);
    assert_eq!(q.to_sql(), other.to_sql());
}

#[test]
fn soft_delete_scopes() {
    assert_eq!(
        User::query().to_sql(),
        select(" WHERE \"deleted_at\" IS NULL")
    );
    assert_eq!(User::query().with_deleted().to_sql(), select(""));
    assert_eq!(
        User::query().only_deleted().to_sql(),
        select(" WHERE \"deleted_at\" IS NOT NULL")
    );
    assert_eq!(
        User::query()
            .filter(User::EMAIL.eq("a"))
            .with_deleted()
            .to_sql(),
        select(" WHERE \"email\" = $1")
    );
    // Tables without soft delete have no scope.
    assert_eq!(
        Tag::query().filter(Tag::WEIGHT.gt(3)).to_sql(),
        "SELECT \"id\", \"name\", \"weight\" FROM \"public\".\"tags\" WHERE \"weight\" > $1"
    );
}

#[test]
fn values_convert_the_way_users_expect() {
    // String columns take &str, String and &String; Option columns take T or Option<T>.
    let owned = String::from("a");
    let _ = User::EMAIL.eq("a");
    let _ = User::EMAIL.eq(owned.clone());
    let _ = User::EMAIL.eq(&owned);
    let _ = User::BIO.eq("x");
    let _ = User::BIO.eq(Some("x"));
    let _ = User::BIO.eq(Some(owned));
    let _ = User::BIO.eq(None::<String>);
    let _ = Tag::WEIGHT.eq(3);
    let _ = Tag::WEIGHT.eq(Some(3));
    let _ = User::ROLE.eq(Role::Admin);
    assert_eq!(Role::VARIANTS.len(), 3);
}
