//! The internal model: attributes resolved, conventions applied, original syn nodes kept for
//! spans. `from_ast` ends by running the checks.

use syn::{Ident, Type, Visibility};

use crate::attr::{TableContainer, TableField, TextEnumContainer, TextEnumVariant};
use crate::case::{snake_case, RenameRule};
use crate::check;
use crate::ctxt::Ctxt;

/// What a column does by convention (mirrors the runtime's `ColumnRole`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Role {
    Plain,
    NoPatch,
    PrimaryKey,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
    Version,
}

pub struct Container<'a> {
    pub ident: &'a Ident,
    pub vis: &'a Visibility,
    pub original: &'a syn::DeriveInput,
    pub attrs: TableContainer,
    pub schema: String,
    pub name: String,
    pub krate: syn::Path,
    pub fields: Vec<Field<'a>>,
}

pub struct Field<'a> {
    pub ident: &'a Ident,
    pub vis: &'a Visibility,
    pub ty: &'a Type,
    pub attrs: TableField,
    /// The SQL column name.
    pub column: String,
    pub role: Role,
    /// `T` of an `Option<T>` field.
    pub option_inner: Option<&'a Type>,
    /// The SQL default, if the database fills the column in.
    pub default: Option<String>,
}

impl Field<'_> {
    /// In the insert struct: no database default and no convention.
    pub fn inserted(&self) -> bool {
        self.default.is_none() && matches!(self.role, Role::Plain | Role::NoPatch)
    }

    /// In the patch struct.
    pub fn patched(&self) -> bool {
        self.role == Role::Plain
    }
}

impl<'a> Container<'a> {
    pub fn from_ast(cx: &Ctxt, input: &'a syn::DeriveInput) -> Option<Container<'a>> {
        let attrs = TableContainer::from_ast(cx, input);
        let named = match &input.data {
            syn::Data::Struct(syn::DataStruct {
                fields: syn::Fields::Named(named),
                ..
            }) => named,
            syn::Data::Struct(s) => {
                let tokens: &dyn quote::ToTokens = match &s.fields {
                    syn::Fields::Unnamed(u) => u,
                    _ => &input.ident,
                };
                cx.error_spanned_by(
                    tokens,
                    "`#[derive(Table)]` needs a struct with named fields, one per column",
                );
                return None;
            }
            syn::Data::Enum(e) => {
                cx.error_spanned_by(
                    e.enum_token,
                    "`#[derive(Table)]` works on structs only; for an enum stored as text, use `#[derive(TextEnum)]`",
                );
                return None;
            }
            syn::Data::Union(u) => {
                cx.error_spanned_by(
                    u.union_token,
                    "`#[derive(Table)]` works on structs with named fields only, not unions",
                );
                return None;
            }
        };
        // Every field's attributes first; roles after, since `id` is the key by convention
        // only when no field is marked `primary_key`.
        let mut fields: Vec<Field> = named.named.iter().map(|f| Field::from_ast(cx, f)).collect();
        let explicit_pk = fields.iter().any(|f| f.attrs.primary_key.get().is_some());
        for field in &mut fields {
            field.resolve_role(explicit_pk);
        }
        let schema = attrs
            .schema
            .get()
            .map(|s| s.value())
            .unwrap_or_else(|| "public".to_string());
        let name = attrs
            .name
            .get()
            .map(|s| s.value())
            .unwrap_or_else(|| format!("{}s", snake_case(&input.ident.to_string())));
        let krate = attrs
            .krate
            .get()
            .cloned()
            .unwrap_or_else(|| syn::parse_quote!(::skelly_db));
        let container = Container {
            ident: &input.ident,
            vis: &input.vis,
            original: input,
            attrs,
            schema,
            name,
            krate,
            fields,
        };
        check::check_table(cx, &container);
        Some(container)
    }

    pub fn primary_key(&self) -> Option<&Field<'a>> {
        self.fields.iter().find(|f| f.role == Role::PrimaryKey)
    }

    pub fn version(&self) -> Option<&Field<'a>> {
        self.fields.iter().find(|f| f.role == Role::Version)
    }

    pub fn soft_delete(&self) -> bool {
        self.fields.iter().any(|f| f.role == Role::DeletedAt)
    }
}

impl<'a> Field<'a> {
    fn from_ast(cx: &Ctxt, field: &'a syn::Field) -> Field<'a> {
        let attrs = TableField::from_ast(cx, field);
        // from_ast only runs on named fields.
        let ident = field.ident.as_ref().expect("named field");
        let column = attrs
            .rename
            .get()
            .map(|s| s.value())
            .unwrap_or_else(|| rust_name(ident));
        Field {
            ident,
            vis: &field.vis,
            ty: &field.ty,
            attrs,
            column,
            role: Role::Plain,
            option_inner: option_inner(&field.ty),
            default: None,
        }
    }

    // The role by attribute, else by name; then the database default it implies.
    fn resolve_role(&mut self, explicit_pk: bool) {
        let attrs = &self.attrs;
        let role = if attrs.primary_key.get().is_some() {
            Role::PrimaryKey
        } else if attrs.version.get().is_some() {
            Role::Version
        } else if attrs.created_at.get().is_some() {
            Role::CreatedAt
        } else if attrs.updated_at.get().is_some() {
            Role::UpdatedAt
        } else if attrs.deleted_at.get().is_some() {
            Role::DeletedAt
        } else if attrs.plain.get().is_some() {
            Role::Plain
        } else {
            match rust_name(self.ident).as_str() {
                "id" if !explicit_pk => Role::PrimaryKey,
                "created_at" => Role::CreatedAt,
                "updated_at" => Role::UpdatedAt,
                "deleted_at" => Role::DeletedAt,
                _ => Role::Plain,
            }
        };
        self.role = if role == Role::Plain && attrs.skip_patch.get().is_some() {
            Role::NoPatch
        } else {
            role
        };
        self.default = match attrs.default.get() {
            Some(d) => Some(d.value()),
            None => match self.role {
                Role::PrimaryKey if is_named(self.ty, "Uuid") => {
                    Some("gen_random_uuid()".to_string())
                }
                Role::CreatedAt | Role::UpdatedAt => Some("now()".to_string()),
                // A new row is version 1; every update by key checks and increments it.
                Role::Version => Some("1".to_string()),
                _ => None,
            },
        };
    }
}

/// The field's name without a raw-identifier `r#`.
pub fn rust_name(ident: &Ident) -> String {
    let name = ident.to_string();
    name.strip_prefix("r#").unwrap_or(&name).to_string()
}

/// `T` of `Option<T>` (also `std::option::Option<T>`), read from the syntax.
pub fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        syn::GenericArgument::Type(inner) if args.args.len() == 1 => Some(inner),
        _ => None,
    }
}

/// Whether the type's last path segment is `name` (`Uuid`, `uuid::Uuid`, ...).
pub fn is_named(ty: &Type, name: &str) -> bool {
    matches!(ty, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == name))
}

/// Whether the type is a chrono timestamp (`DateTime<_>` or `NaiveDateTime`).
pub fn is_timestamp(ty: &Type) -> bool {
    is_named(ty, "DateTime") || is_named(ty, "NaiveDateTime")
}

pub struct TextEnum<'a> {
    pub ident: &'a Ident,
    pub krate: syn::Path,
    pub variants: Vec<Variant<'a>>,
}

pub struct Variant<'a> {
    pub ident: &'a Ident,
    pub original: &'a syn::Variant,
    pub attrs: TextEnumVariant,
    pub text: String,
}

impl<'a> TextEnum<'a> {
    pub fn from_ast(cx: &Ctxt, input: &'a syn::DeriveInput) -> Option<TextEnum<'a>> {
        let attrs = TextEnumContainer::from_ast(cx, input);
        let data = match &input.data {
            syn::Data::Enum(e) => e,
            syn::Data::Struct(s) => {
                cx.error_spanned_by(
                    s.struct_token,
                    "`#[derive(TextEnum)]` works on enums with unit variants only; for a table, use `#[derive(Table)]`",
                );
                return None;
            }
            syn::Data::Union(u) => {
                cx.error_spanned_by(
                    u.union_token,
                    "`#[derive(TextEnum)]` works on enums with unit variants only",
                );
                return None;
            }
        };
        let rule = attrs
            .rename_all
            .get()
            .copied()
            .unwrap_or(RenameRule::SnakeCase);
        let variants = data
            .variants
            .iter()
            .map(|v| {
                let vattrs = TextEnumVariant::from_ast(cx, v);
                let text = vattrs
                    .rename
                    .get()
                    .map(|s| s.value())
                    .unwrap_or_else(|| rule.apply_to_variant(&v.ident.to_string()));
                Variant {
                    ident: &v.ident,
                    original: v,
                    attrs: vattrs,
                    text,
                }
            })
            .collect();
        let krate = attrs
            .krate
            .get()
            .cloned()
            .unwrap_or_else(|| syn::parse_quote!(::skelly_db));
        let out = TextEnum {
            ident: &input.ident,
            krate,
            variants,
        };
        check::check_text_enum(cx, input, &out);
        Some(out)
    }
}
