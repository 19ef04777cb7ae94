//! Renaming rules: snake_case and friends, as serde applies them to PascalCase variant names.

use std::fmt;

/// `#[text_enum(rename_all = "...")]`: how a variant's name becomes its text.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
#[allow(clippy::enum_variant_names)] // the names are the rules' own names
pub enum RenameRule {
    /// `snake_case` (the default).
    SnakeCase,
    /// `kebab-case`.
    KebabCase,
    /// `lowercase`.
    LowerCase,
    /// `SCREAMING_SNAKE_CASE`.
    ScreamingSnakeCase,
    /// `camelCase`.
    CamelCase,
}

/// Every rule with its name as written in `rename_all = "..."`.
pub const RULES: &[(&str, RenameRule)] = &[
    ("snake_case", RenameRule::SnakeCase),
    ("kebab-case", RenameRule::KebabCase),
    ("lowercase", RenameRule::LowerCase),
    ("SCREAMING_SNAKE_CASE", RenameRule::ScreamingSnakeCase),
    ("camelCase", RenameRule::CamelCase),
];

impl RenameRule {
    /// The rule named `s` (e.g. `"kebab-case"`), if any.
    pub fn parse(s: &str) -> Option<RenameRule> {
        RULES.iter().find(|(name, _)| *name == s).map(|(_, r)| *r)
    }

    /// Applies the rule to a PascalCase variant name.
    pub fn apply_to_variant(self, variant: &str) -> String {
        match self {
            RenameRule::LowerCase => variant.to_ascii_lowercase(),
            RenameRule::CamelCase => {
                let mut chars = variant.chars();
                match chars.next() {
                    Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
                    None => String::new(),
                }
            }
            RenameRule::SnakeCase => snake_case(variant),
            RenameRule::ScreamingSnakeCase => snake_case(variant).to_ascii_uppercase(),
            RenameRule::KebabCase => snake_case(variant).replace('_', "-"),
        }
    }
}

impl fmt::Display for RenameRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = RULES.iter().find(|(_, r)| r == self).map(|(n, _)| *n);
        f.write_str(name.unwrap_or("?"))
    }
}

/// `ReadOnly` -> `read_only`, `UserProfile` -> `user_profile` (an `_` before every uppercase
/// letter but the first, as serde does).
pub fn snake_case(pascal: &str) -> String {
    let mut out = String::with_capacity(pascal.len() + 4);
    for (i, ch) in pascal.char_indices() {
        if i > 0 && ch.is_uppercase() {
            out.push('_');
        }
        out.push(ch.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rename_variants() {
        for (original, snake, kebab, lower, screaming, camel) in [
            ("Admin", "admin", "admin", "admin", "ADMIN", "admin"),
            (
                "ReadOnly",
                "read_only",
                "read-only",
                "readonly",
                "READ_ONLY",
                "readOnly",
            ),
            ("A", "a", "a", "a", "A", "a"),
            (
                "HTTPServer",
                "h_t_t_p_server",
                "h-t-t-p-server",
                "httpserver",
                "H_T_T_P_SERVER",
                "hTTPServer",
            ),
            ("Z9Top", "z9_top", "z9-top", "z9top", "Z9_TOP", "z9Top"),
        ] {
            assert_eq!(RenameRule::SnakeCase.apply_to_variant(original), snake);
            assert_eq!(RenameRule::KebabCase.apply_to_variant(original), kebab);
            assert_eq!(RenameRule::LowerCase.apply_to_variant(original), lower);
            assert_eq!(
                RenameRule::ScreamingSnakeCase.apply_to_variant(original),
                screaming
            );
            assert_eq!(RenameRule::CamelCase.apply_to_variant(original), camel);
        }
    }

    #[test]
    fn table_names() {
        assert_eq!(snake_case("User"), "user");
        assert_eq!(snake_case("UserProfile"), "user_profile");
        assert_eq!(RenameRule::parse("kebab-case"), Some(RenameRule::KebabCase));
        assert_eq!(RenameRule::parse("Kebab"), None);
    }
}
