//! The README's quickstart: `cargo run --example quickstart`.
//!
//! Creates a fresh database on the server of `DATABASE_URL` (or on a throwaway local server
//! when it is unset), applies the reference migrations, runs the development seed, and shows
//! the main features. The database is dropped at the end, so it can run again and again.

use skelly_db::Table;
use std::process::ExitCode;

use skelly_db::seed::Seeder;
use skelly_db::testing::TestDb;
use skelly_db::{ConstraintKind, Error};
use skelly_db_tests::{DevSeed, NewUser, Role, User, UserPatch};

#[tokio::main]
async fn main() -> ExitCode {
    match quickstart().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn quickstart() -> skelly_db::Result<()> {
    let db = TestDb::new().await?;
    let pool = db.pool();
    println!("database   {} (dropped at exit)", db.name());

    // Migrations embedded at compile time: a malformed file would not compile.
    let migrator = skelly_db::embed_migrations!("../migrations");
    for m in migrator.up(pool).await? {
        println!("migrated   {} in {} ms", m.id, m.duration.as_millis());
    }

    let seeded = Seeder::new().seed(DevSeed).run(pool).await?;
    println!("seeded     {}", seeded.join(", "));

    // Insert: the database fills in id, created_at and updated_at.
    let user = User::insert(
        pool,
        NewUser {
            email: "margaret@example.com".into(),
            display_name: "Margaret Hamilton".into(),
            role: Role::Member,
            bio: None,
        },
    )
    .await?;
    println!("inserted   {} {} ({})", user.id, user.email, user.role);

    let found = User::get(pool, user.id).await?;
    println!(
        "found      {} created {}",
        found.display_name,
        found.created_at.format("%H:%M:%S")
    );

    // A typed query: `User::EMAIL.eq(42)` would not compile.
    let staff = User::query()
        .filter(User::ROLE.is_in([Role::Admin, Role::Member]))
        .order_by(User::EMAIL.asc())
        .limit(10)
        .fetch_all(pool)
        .await?;
    let names: Vec<&str> = staff.iter().map(|u| u.display_name.as_str()).collect();
    println!("query      admins and members: {}", names.join(", "));

    // Update writes only the Some fields, and always updated_at.
    let updated = User::update(
        pool,
        user.id,
        UserPatch {
            role: Some(Role::Admin),
            bio: Some(Some("Apollo flight software".into())),
            ..Default::default()
        },
    )
    .await?;
    println!(
        "updated    role {} bio {:?}",
        updated.role,
        updated.bio.as_deref().unwrap_or("")
    );

    // Soft delete: the row stays, but find, get and queries no longer see it.
    User::delete(pool, user.id).await?;
    let hidden = User::find(pool, user.id).await?.is_none();
    let deleted = User::query().only_deleted().count(pool).await?;
    println!("deleted    hidden from find: {hidden}; soft-deleted rows: {deleted}");
    User::restore(pool, user.id).await?;
    println!(
        "restored   live users: {}",
        User::query().count(pool).await?
    );

    // A unique violation is a typed error with the constraint's name and an HTTP status.
    let duplicate = User::insert(
        pool,
        NewUser {
            email: "ada@example.com".into(),
            display_name: "Another Ada".into(),
            role: Role::ReadOnly,
            bio: None,
        },
    )
    .await;
    match duplicate {
        Err(err @ Error::Constraint(_)) => {
            let v = err.as_constraint().expect("a constraint violation");
            assert_eq!(v.kind, ConstraintKind::Unique);
            println!(
                "caught     {} on {} -> HTTP {} ({})",
                err.code(),
                v.constraint.as_deref().unwrap_or("?"),
                err.status(),
                v.detail.as_deref().unwrap_or("")
            );
        }
        Ok(_) => return Err(Error::Config("the duplicate email was accepted".into())),
        Err(other) => return Err(other),
    }
    println!("done");
    Ok(())
}
