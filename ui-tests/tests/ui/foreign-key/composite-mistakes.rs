use skelly_db::Table;

// Two columns, one referenced; a column the struct does not have; set null on a NOT NULL one.
#[derive(Table)]
#[table(foreign_key(columns(order_id, line), references = "shop.order_lines(id)"))]
#[table(foreign_key(columns(order_id, lne), references = "shop.order_lines"))]
#[table(foreign_key(columns(order_id, line), references = "shop.order_lines", on_delete = "set null"))]
struct Shipment {
    id: i64,
    order_id: i64,
    line: i32,
}

fn main() {}
