//! Compile-fail tests for the skelly-db macros live in `tests/`.
