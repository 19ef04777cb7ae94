//! Tests the derives under a renamed dependency; see `tests/`.
