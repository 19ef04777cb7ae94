//! Integration tests for skelly-db live in `tests/`.
