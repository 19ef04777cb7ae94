// Four fields of types with no SQL mapping: one error each, no ToSql follow-ons from the
// insert and patch structs.
use skelly_db::Table;

struct Money(u64);

#[derive(Table)]
struct Account {
    id: uuid::Uuid,
    balance: Money,
    limit: Option<Money>,
    history: Vec<Money>,
    timeout: std::time::Duration,
}

fn main() {}
