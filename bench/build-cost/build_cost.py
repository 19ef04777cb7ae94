#!/usr/bin/env python3
"""Build cost of skelly-db per table (issue 28).

Generates a schema crate of N tables the way an application uses the derive (each table:
11 columns, a foreign key to the one before, a text enum; and a function per table that inserts,
finds, patches, runs a filtered query, a join and a page), then times, with the dependencies
already built and shared between runs:

- full: the crate alone built from clean (`cargo clean -p gen; cargo build`),
- check: `cargo check` after touching its source,
- touch: `cargo build` after touching its source (incremental),

at each N given (default 10 50 100), three rounds each, median; and, when cargo-llvm-lines is
installed, its LLVM IR lines and monomorphised copies per table. The per-table cost is the slope
between the smallest and the largest N.

    python3 bench/build-cost/build_cost.py [N ...] [--rounds 3] [--work /tmp/skelly-build-cost]
        [--shape full|query] [--orm skelly|seaorm]

`--shape query` is the issue's comparison shape: the same 11-column tables, and per table only
one filtered query (filter, order, limit, fetch all). `--orm seaorm` generates that shape with
SeaORM (entities with `DeriveEntityModel`, a `DeriveActiveEnum` text enum, the same query), so
both libraries are measured by the same script on the same machine.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def table(i):
    prev = f'    #[table(references = "app.t{i - 1}s")]\n    pub parent_id: Option<uuid::Uuid>,\n' if i > 0 else \
        "    pub parent_id: Option<uuid::Uuid>,\n"
    return f'''
#[derive(Table, Debug, Clone)]
#[table(schema = "app", name = "t{i}s")]
pub struct T{i} {{
    pub id: uuid::Uuid,
{prev}    #[table(unique)]
    pub name: String,
    pub title: String,
    pub count: i32,
    pub total: i64,
    pub active: bool,
    pub kind: Kind,
    pub note: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}}

pub async fn use_t{i}(db: &skelly_db::Pool) -> skelly_db::Result<usize> {{
    let row = T{i}::insert(db, NewT{i} {{
        parent_id: None,
        name: "n".into(),
        title: "t".into(),
        count: 1,
        total: 2,
        active: true,
        kind: Kind::A,
        note: None,
    }})
    .await?;
    let found = T{i}::find(db, row.id).await?;
    T{i}::patch(db, row.id, T{i}Patch {{ title: Some("u".into()), ..Default::default() }}).await?;
    let list = T{i}::query()
        .filter(T{i}::COUNT.gt(0).and(T{i}::NAME.like("n%")))
        .order_by(T{i}::CREATED_AT.desc())
        .limit(20)
        .fetch_all(db)
        .await?;
    let page = T{i}::query().order_by(T{i}::NAME.asc()).page(db, 10, None).await?;
    {"let joined = T%d::query().join(T%d::PARENT_ID_FK).fetch_all(db).await?.len();" % (i, i) if i > 0 else "let joined = 0;"}
    Ok(list.len() + page.rows.len() + usize::from(found.is_some()) + joined)
}}
'''


def query_table(i):
    """The issue's shape: the table and one filtered query."""
    return table(i).split("pub async fn")[0] + f'''
pub async fn use_t{i}(db: &skelly_db::Pool) -> skelly_db::Result<usize> {{
    let list = T{i}::query()
        .filter(T{i}::COUNT.gt(0).and(T{i}::NAME.like("n%")))
        .order_by(T{i}::CREATED_AT.desc())
        .limit(20)
        .fetch_all(db)
        .await?;
    Ok(list.len())
}}
'''


def seaorm_table(i):
    """The issue's shape with SeaORM: an entity of the same 11 columns and the same query."""
    return f'''
pub mod t{i} {{
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(schema_name = "app", table_name = "t{i}s")]
    pub struct Model {{
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub parent_id: Option<Uuid>,
        #[sea_orm(unique)]
        pub name: String,
        pub title: String,
        pub count: i32,
        pub total: i64,
        pub active: bool,
        pub kind: super::Kind,
        pub note: Option<String>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }}

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {{}}

    impl ActiveModelBehavior for ActiveModel {{}}
}}

pub async fn use_t{i}(db: &sea_orm::DatabaseConnection) -> Result<usize, sea_orm::DbErr> {{
    let list = t{i}::Entity::find()
        .filter(t{i}::Column::Count.gt(0))
        .filter(t{i}::Column::Name.like("n%"))
        .order_by_desc(t{i}::Column::CreatedAt)
        .limit(20)
        .all(db)
        .await?;
    Ok(list.len())
}}
'''


def generate(work, n, shape="full", orm="skelly"):
    if orm == "seaorm":
        return generate_seaorm(work, n)
    crate = os.path.join(work, "gen" if shape == "full" else f"gen-{shape}")
    os.makedirs(os.path.join(crate, "src"), exist_ok=True)
    with open(os.path.join(crate, "Cargo.toml"), "w") as f:
        f.write(f'''[package]
name = "gen"
version = "0.1.0"
edition = "2021"

[dependencies]
skelly-db = {{ path = "{ROOT}/runtime" }}
uuid = {{ version = "1", default-features = false, features = ["std", "v4"] }}
chrono = {{ version = "0.4", default-features = false, features = ["std", "clock"] }}

[workspace]
''')
    body = ["use skelly_db::{Table, TextEnum};\n",
            "#[derive(TextEnum, Debug, Clone, Copy, PartialEq, Eq)]\npub enum Kind { A, B, C }\n"]
    body += [(table if shape == "full" else query_table)(i) for i in range(n)]
    with open(os.path.join(crate, "src", "lib.rs"), "w") as f:
        f.write("\n".join(body))
    return crate


def generate_seaorm(work, n):
    crate = os.path.join(work, "gen-seaorm")
    os.makedirs(os.path.join(crate, "src"), exist_ok=True)
    with open(os.path.join(crate, "Cargo.toml"), "w") as f:
        f.write('''[package]
name = "gen"
version = "0.1.0"
edition = "2021"

[dependencies]
sea-orm = { version = "1", default-features = false, features = ["macros", "sqlx-postgres", "runtime-tokio-rustls", "with-uuid", "with-chrono"] }

[workspace]
''')
    body = ["use sea_orm::entity::prelude::*;\n",
            "use sea_orm::{QueryFilter, QueryOrder, QuerySelect};\n",
            "#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum)]\n"
            "#[sea_orm(rs_type = \"String\", db_type = \"Text\")]\n"
            "pub enum Kind {\n"
            "    #[sea_orm(string_value = \"a\")]\n    A,\n"
            "    #[sea_orm(string_value = \"b\")]\n    B,\n"
            "    #[sea_orm(string_value = \"c\")]\n    C,\n}\n"]
    body += [seaorm_table(i) for i in range(n)]
    with open(os.path.join(crate, "src", "lib.rs"), "w") as f:
        f.write("\n".join(body))
    return crate


def run(crate, *args, env=None):
    start = time.monotonic()
    out = subprocess.run(["cargo", *args], cwd=crate, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - start
    if out.returncode != 0:
        sys.exit(f"cargo {' '.join(args)} failed:\n{out.stderr[-4000:]}")
    return elapsed, out.stdout


def touch(crate):
    os.utime(os.path.join(crate, "src", "lib.rs"))


def measure(work, n, rounds, shape="full", orm="skelly"):
    crate = generate(work, n, shape, orm)
    target = "target" if orm == "skelly" else f"target-{orm}"
    env = dict(os.environ, CARGO_TARGET_DIR=os.path.join(work, target))
    run(crate, "build", env=env)  # dependencies, not timed
    run(crate, "check", env=env)
    full, check, rebuild = [], [], []
    for _ in range(rounds):
        run(crate, "clean", "-p", "gen", env=env)
        full.append(run(crate, "build", env=env)[0])
        touch(crate)
        check.append(run(crate, "check", env=env)[0])
        touch(crate)
        rebuild.append(run(crate, "build", env=env)[0])
    lines = copies = None
    if shutil.which("cargo-llvm-lines"):
        _, text = run(crate, "llvm-lines", "--lib", env=env)
        total = next(l for l in text.splitlines() if "(TOTAL)" in l).split()
        lines, copies = int(total[0]), int(total[1])
    return statistics.median(full), statistics.median(check), statistics.median(rebuild), lines, copies


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("sizes", nargs="*", type=int, default=[10, 50, 100])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", default="/tmp/skelly-build-cost")
    parser.add_argument("--shape", choices=["full", "query"], default="full")
    parser.add_argument("--orm", choices=["skelly", "seaorm"], default="skelly")
    args = parser.parse_args()
    if args.orm == "seaorm" and args.shape != "query":
        parser.error("--orm seaorm generates the query shape only: add --shape query")
    os.makedirs(args.work, exist_ok=True)
    results = {}
    print(f"{'tables':>6} {'full s':>8} {'check s':>8} {'touch s':>8} {'IR lines':>10} {'copies':>8}")
    for n in args.sizes:
        full, check, rebuild, lines, copies = measure(args.work, n, args.rounds, args.shape, args.orm)
        results[n] = (full, check, rebuild, lines, copies)
        print(f"{n:>6} {full:>8.2f} {check:>8.2f} {rebuild:>8.2f} {lines or '-':>10} {copies or '-':>8}", flush=True)
    if len(args.sizes) >= 2:
        lo, hi = min(args.sizes), max(args.sizes)
        d = hi - lo
        a, b = results[lo], results[hi]
        print(f"per table ({lo} -> {hi}): full {1000 * (b[0] - a[0]) / d:.0f} ms, "
              f"check {1000 * (b[1] - a[1]) / d:.0f} ms, touch {1000 * (b[2] - a[2]) / d:.0f} ms"
              + (f", {(b[3] - a[3]) / d:.0f} IR lines, {(b[4] - a[4]) / d:.0f} copies" if a[3] and b[3] else ""))


if __name__ == "__main__":
    main()
