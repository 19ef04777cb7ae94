use super::*;

fn parse(src: &str) -> ParsedMigration {
    parse_migration(src).unwrap_or_else(|e| panic!("{e}\n---\n{src}"))
}

fn parse_err(src: &str) -> ParseError {
    parse_migration(src).expect_err("expected a parse error")
}

#[test]
fn splits_on_semicolon_at_line_end() {
    let p = parse(
        "-- +migrate Up\nCREATE TABLE a (id int);\nCREATE TABLE b (\n  id int\n);\n\n-- +migrate Down\nDROP TABLE b;\nDROP TABLE a;\n",
    );
    assert_eq!(
        p.up.statements,
        [
            "CREATE TABLE a (id int);\n",
            "CREATE TABLE b (\n  id int\n);\n"
        ]
    );
    assert_eq!(p.up.statement_lines, [2, 3]);
    // sql-migrate keeps the blank line before the Down marker in front of the next statement.
    assert_eq!(p.down.statements, ["\nDROP TABLE b;\n", "DROP TABLE a;\n"]);
    assert_eq!(p.down.statement_lines, [8, 9]);
    assert!(p.up.present && p.down.present);
    assert!(!p.up.no_transaction && !p.down.no_transaction);
}

#[test]
fn semicolon_inside_a_line_does_not_split() {
    let p = parse("-- +migrate Up\nSELECT ';' ; SELECT 2\n;\n");
    assert_eq!(p.up.statements, ["SELECT ';' ; SELECT 2\n;\n"]);
}

#[test]
fn trailing_comment_after_semicolon_still_ends_statement() {
    let p = parse("-- +migrate Up\nSELECT 1; -- done\nSELECT 2 -- not; done\n;\n");
    assert_eq!(
        p.up.statements,
        ["SELECT 1; -- done\n", "SELECT 2 -- not; done\n;\n"]
    );
}

#[test]
fn no_quote_awareness_like_sql_migrate() {
    // A `;` at line end inside a string literal still ends the statement.
    let p = parse("-- +migrate Up\nINSERT INTO t VALUES ('a;\nb');\n");
    assert_eq!(p.up.statements, ["INSERT INTO t VALUES ('a;\n", "b');\n"]);
}

#[test]
fn statement_block_is_one_statement() {
    let src = "-- +migrate Up\n-- +migrate StatementBegin\nCREATE FUNCTION f() RETURNS int AS $$\nBEGIN\n  RETURN 1;\nEND;\n$$ LANGUAGE plpgsql;\n-- +migrate StatementEnd\nSELECT 1;\n-- +migrate Down\nDROP FUNCTION f();\n";
    let p = parse(src);
    assert_eq!(
        p.up.statements,
        [
            "CREATE FUNCTION f() RETURNS int AS $$\nBEGIN\n  RETURN 1;\nEND;\n$$ LANGUAGE plpgsql;\n",
            "SELECT 1;\n"
        ]
    );
    assert_eq!(p.up.statement_lines, [3, 9]);
}

#[test]
fn comments_dropped_at_column_zero_kept_when_indented() {
    let src = "-- +migrate Up\n-- a comment\nCREATE TABLE t (\n  -- indented comment\n  id int\n);\n--no space is kept\nSELECT 1;\n";
    let p = parse(src);
    assert_eq!(
        p.up.statements,
        [
            "CREATE TABLE t (\n  -- indented comment\n  id int\n);\n",
            "--no space is kept\nSELECT 1;\n"
        ]
    );
}

#[test]
fn comments_inside_blocks_are_dropped_too() {
    let src = "-- +migrate Up\n-- +migrate StatementBegin\nSELECT 1;\n-- inside\n  -- kept\nSELECT 2;\n-- +migrate StatementEnd\n";
    assert_eq!(
        parse(src).up.statements,
        ["SELECT 1;\n  -- kept\nSELECT 2;\n"]
    );
}

#[test]
fn text_before_first_marker_is_ignored() {
    let p = parse("this is not sql\nSELECT nope\n-- +migrate Up\nSELECT 1;\n");
    assert_eq!(p.up.statements, ["SELECT 1;\n"]);
    assert!(!p.down.present);
}

#[test]
fn crlf_parses_like_lf() {
    let lf = "-- +migrate Up\nCREATE TABLE a (id int);\n-- +migrate StatementBegin\nSELECT 1;\nSELECT 2;\n-- +migrate StatementEnd\n-- +migrate Down notransaction\nDROP TABLE a;\n";
    let crlf = lf.replace('\n', "\r\n");
    assert_eq!(parse(lf), parse(&crlf));
}

#[test]
fn notransaction_option() {
    let p = parse("-- +migrate Up notransaction\nCREATE INDEX CONCURRENTLY i ON t (a);\n-- +migrate Down\nDROP INDEX i;\n");
    assert!(p.up.no_transaction);
    assert!(!p.down.no_transaction);
}

#[test]
fn last_line_without_newline() {
    let p = parse("-- +migrate Up\nSELECT 1;");
    assert_eq!(p.up.statements, ["SELECT 1;\n"]);
}

#[test]
fn empty_down_is_present_with_no_statements() {
    let p = parse("-- +migrate Up\nSELECT 1;\n-- +migrate Down\n-- nothing to undo\n");
    assert!(p.down.present);
    assert!(p.down.statements.is_empty());
}

#[test]
fn sections_may_repeat_like_sql_migrate() {
    let p = parse(
        "-- +migrate Up\nSELECT 1;\n-- +migrate Down\nSELECT 2;\n-- +migrate Up\nSELECT 3;\n",
    );
    assert_eq!(p.up.statements, ["SELECT 1;\n", "SELECT 3;\n"]);
}

#[test]
fn other_tool_markers_are_dropped() {
    let p = parse("-- +migrate Up\n-- +goose Up\nSELECT 1;\n");
    assert_eq!(p.up.statements, ["SELECT 1;\n"]);
}

#[test]
fn error_no_markers() {
    let e = parse_err("CREATE TABLE t (id int);\n");
    assert!(e.message.contains("no `-- +migrate Up`"), "{e}");
    assert_eq!(e.line, 1);
}

#[test]
fn error_unclosed_block_names_its_line() {
    let e = parse_err("-- +migrate Up\nSELECT 1;\n-- +migrate StatementBegin\nSELECT 2;\n");
    assert_eq!(e.line, 3);
    assert!(e.message.contains("StatementEnd"), "{e}");
}

#[test]
fn error_missing_terminator_at_direction_change() {
    let e = parse_err("-- +migrate Up\nSELECT 1;\nSELECT 2\n\n-- +migrate Down\nSELECT 3;\n");
    assert_eq!(e.line, 3);
    assert!(e.message.contains("not ended by a `;`"), "{e}");
}

#[test]
fn error_missing_terminator_at_end() {
    let e = parse_err("-- +migrate Up\nSELECT 1;\n-- +migrate Down\n\nDROP TABLE t\n");
    assert_eq!(e.line, 5);
}

#[test]
fn error_empty_command() {
    let e = parse_err("-- +migrate Up\nSELECT 1;\n-- +migrate \n");
    assert_eq!(e.line, 3);
    assert!(e.message.contains("incomplete"), "{e}");
}

#[test]
fn error_unknown_or_misspelled_commands_name_their_line() {
    for (cmd, expect) in [
        ("-- +migrate DOWN", "did you mean `Down`"),
        ("-- +migrate Down;", "did you mean `Down`"),
        ("-- +migrate Foo", "expected one of"),
        (
            "-- +migrate statementbegin",
            "did you mean `StatementBegin`",
        ),
        ("-- +migrateUp", "not a migrate command"),
        ("-- +migrate", "not a migrate command"),
        (
            "-- +migrate Up notransactoin",
            "unknown option `notransactoin`",
        ),
        ("-- +migrate StatementEnd now", "takes no options"),
    ] {
        let src = format!("-- +migrate Up\nSELECT 1;\n{cmd}\nSELECT 2;\n");
        let e = parse_err(&src);
        assert_eq!(e.line, 3, "{cmd}: {e}");
        assert!(e.message.contains(expect), "{cmd}: {e}");
    }
}

#[test]
fn compare_ids_like_sql_migrate() {
    let mut ids = vec![
        "10_b.sql",
        "unnumbered.sql",
        "1_a.sql",
        "2023-01-20.0-initial.sql",
        "000_create_all.sql",
        "20240101120000_init.sql",
        "a_first.sql",
        "1_0.sql",
    ];
    ids.sort_by(|a, b| compare_ids(a, b));
    assert_eq!(
        ids,
        [
            "000_create_all.sql",
            "1_0.sql",
            "1_a.sql",
            "10_b.sql",
            "2023-01-20.0-initial.sql",
            "20240101120000_init.sql",
            "a_first.sql",
            "unnumbered.sql",
        ]
    );
}
