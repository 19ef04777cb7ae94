// Executor is sealed: only skelly-db's connection types (and MockDb) implement it.
struct MyDb;

impl skelly_db::Executor for MyDb {}

fn main() {}
