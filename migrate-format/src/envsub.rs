//! goose's `-- +goose ENVSUB ON` substitution, with the rules of the interpolation library goose
//! uses (github.com/mfridman/interpolate v0.0.2):
//!
//! - `$VAR` and `${VAR}`: the variable's value, empty when unset;
//! - `${VAR:-word}`: `word` when VAR is unset or empty; `${VAR-word}`: when unset;
//! - `${VAR?message}`: an error (`$VAR: message`, or `$VAR: not set`) when unset;
//! - `${VAR:offset}` and `${VAR:offset:length}`: a substring (bytes; negative counts from the
//!   end: `${VAR: -3}`);
//! - `$$` and `\$` are a `$`; `$(` and a `$` ending the line stay as they are;
//! - a name starts with a letter: `$1`, `$_x` or `${}` is an error, as in goose.
//!
//! `word` and `message` may hold expansions themselves.

/// Where variables are looked up: `None` when unset.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// `line` with its expansions replaced.
pub fn interpolate(line: &str, env: Lookup<'_>) -> Result<String, String> {
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    let out = expression(&chars, &mut i, false, true, env)?;
    Ok(out)
}

const EOF: char = '\u{fffd}';

// Text and expansions up to the end (or a `}` when `in_brace`); `eval` false only checks.
fn expression(
    chars: &[char],
    i: &mut usize,
    in_brace: bool,
    eval: bool,
    env: Lookup<'_>,
) -> Result<String, String> {
    let mut out = String::new();
    while let Some(&c) = chars.get(*i) {
        if in_brace && c == '}' {
            break;
        }
        let next = chars.get(*i + 1).copied();
        match (c, next) {
            ('\\', Some('$')) => {
                out.push('$');
                *i += 2;
            }
            ('\\', Some('\\')) => {
                out.push_str("\\\\");
                *i += 2;
            }
            ('$', None) => {
                out.push('$');
                *i += 1;
            }
            ('$', Some('$')) => {
                out.push('$');
                *i += 2;
            }
            ('$', Some('(')) => {
                out.push_str("$(");
                *i += 2;
            }
            ('$', Some('{')) => {
                *i += 2;
                out.push_str(&brace(chars, i, eval, env)?);
            }
            ('$', Some(_)) => {
                *i += 1;
                let name = identifier(chars, i)?;
                if eval {
                    out.push_str(&env(&name).unwrap_or_default());
                }
            }
            _ => {
                out.push(c);
                *i += 1;
            }
        }
    }
    Ok(out)
}

fn identifier(chars: &[char], i: &mut usize) -> Result<String, String> {
    let first = chars.get(*i).copied().unwrap_or(EOF);
    if first == EOF || !first.is_alphabetic() {
        return Err(format!(
            "Expected identifier to start with a letter, got {first}"
        ));
    }
    let start = *i;
    while chars
        .get(*i)
        .is_some_and(|c| c.is_alphanumeric() || *c == '_')
    {
        *i += 1;
    }
    Ok(chars[start..*i].iter().collect())
}

// After `${`: the name, an operator and its operand, and the `}`.
fn brace(chars: &[char], i: &mut usize, eval: bool, env: Lookup<'_>) -> Result<String, String> {
    let name = identifier(chars, i)?;
    let value = if eval { env(&name) } else { None };
    let op = chars.get(*i).copied().unwrap_or(EOF);
    let result = match op {
        '}' => value.unwrap_or_default(),
        ':' if chars.get(*i + 1) == Some(&'-') => {
            *i += 2;
            let use_word = value.as_deref().is_none_or(str::is_empty);
            let word = expression(chars, i, true, eval && use_word, env)?;
            match use_word {
                true => word,
                false => value.unwrap_or_default(),
            }
        }
        ':' => {
            *i += 1;
            let offset = number(chars, i, "offset")?;
            let length = match chars.get(*i) {
                Some(':') => {
                    *i += 1;
                    Some(number(chars, i, "length")?)
                }
                _ => None,
            };
            substring(&value.unwrap_or_default(), offset, length)
        }
        '-' => {
            *i += 1;
            let unset = value.is_none();
            let word = expression(chars, i, true, eval && unset, env)?;
            match unset {
                true => word,
                false => value.unwrap_or_default(),
            }
        }
        '?' => {
            *i += 1;
            let unset = eval && value.is_none();
            let message = expression(chars, i, true, unset, env)?;
            if unset {
                let message = if message.is_empty() {
                    "not set".to_string()
                } else {
                    message
                };
                return Err(format!("${name}: {message}"));
            }
            value.unwrap_or_default()
        }
        other => return Err(format!("Expected an operator, got {other}")),
    };
    match chars.get(*i) {
        Some('}') => {
            *i += 1;
            Ok(result)
        }
        other => Err(format!(
            "Expected brace expansion to end with }}, got {}",
            other.copied().unwrap_or(EOF)
        )),
    }
}

// An integer up to `:` or `}`.
fn number(chars: &[char], i: &mut usize, what: &str) -> Result<i64, String> {
    let start = *i;
    while chars.get(*i).is_some_and(|c| *c != ':' && *c != '}') {
        *i += 1;
    }
    let text: String = chars[start..*i].iter().collect();
    text.trim()
        .parse()
        .map_err(|_| format!("Unable to parse {what}: `{text}` is not an integer"))
}

fn substring(value: &str, offset: i64, length: Option<i64>) -> String {
    let bytes = value.as_bytes();
    let len = bytes.len() as i64;
    let start = match offset < 0 {
        true => (len + offset).max(0),
        false => offset.min(len),
    };
    let end = match length {
        None => len,
        Some(n) if n < 0 => (len + n).max(start),
        Some(n) => (start + n).min(len),
    };
    String::from_utf8_lossy(&bytes[start as usize..end as usize]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "NAME" => Some("foo".into()),
            "EMPTY" => Some(String::new()),
            "LONG" => Some("abcdefgh".into()),
            _ => None,
        }
    }

    fn sub(line: &str) -> Result<String, String> {
        interpolate(line, &env)
    }

    #[test]
    fn goose_rules() {
        let ok = |line: &str, want: &str| assert_eq!(sub(line).as_deref(), Ok(want), "{line}");
        ok("SELECT '${NAME}' AS a, $NAME", "SELECT 'foo' AS a, foo");
        ok("'${UNSET}' '$UNSET'", "'' ''");
        ok("${UNSET:-d} ${EMPTY:-d} ${NAME:-d}", "d d foo");
        ok("${UNSET-d} ${EMPTY-d} ${NAME-d}", "d  foo");
        ok("${UNSET:-${NAME:-x}}", "foo");
        ok(
            "${LONG:2} ${LONG:2:3} ${LONG: -3} ${LONG:1:-2} ${LONG:20}",
            "cdefgh cde fgh bcdef ",
        );
        ok("'${NAME} \\$NAME' $$ cost$", "'foo $NAME' $ cost$");
        ok("$(x) \\\\ \\n", "$(x) \\\\ \\n");
        ok("${EMPTY?gone} ${NAME?gone}", " foo");
        // An unused default is not expanded: its error does not fire.
        ok("${NAME:-${UNSET?never}}", "foo");
    }

    #[test]
    fn goose_errors() {
        let err = |line: &str, want: &str| assert_eq!(sub(line), Err(want.to_string()), "{line}");
        err(
            "${UNSET?required env var not set}",
            "$UNSET: required env var not set",
        );
        err("${UNSET?}", "$UNSET: not set");
        err(
            "VALUES ($1)",
            "Expected identifier to start with a letter, got 1",
        );
        err("${_X}", "Expected identifier to start with a letter, got _");
        err("${}", "Expected identifier to start with a letter, got }");
        err("${NAME+x}", "Expected an operator, got +");
        err("${NAME", &format!("Expected an operator, got {EOF}"));
        err(
            "${NAME:-x",
            &format!("Expected brace expansion to end with }}, got {EOF}"),
        );
        err(
            "${NAME:=x}",
            "Unable to parse offset: `=x` is not an integer",
        );
    }
}
