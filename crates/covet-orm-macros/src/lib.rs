//! `#[derive(Model)]` for covet-orm.
//!
//! The derive reads `#[covet(...)]` attributes and generates the
//! `covet_orm::Model` impl (static table metadata, `from_row_at` by column
//! position, `value_at`, `set_auto_key`) and one typed column constant per
//! field (`User::AGE: Column<User, i32>`). Every bad attribute is a
//! compile error that points at the attribute or field that caused it.
//! See the covet-orm crate for the user-facing documentation.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, LitInt, LitStr, Type};

/// Derives `covet_orm::Model` for a struct with named fields.
///
/// Struct attributes: `#[covet(table = "users")]` (default: the struct name
/// in snake_case) and `#[covet(crate = "covet::orm")]` where the code reaches
/// covet-orm through the `covet` facade rather than as `covet_orm`. Field attributes: `primary_key`, `auto_increment` (with
/// `primary_key`, on one integer field), `column = "name"`, `unique`,
/// `index`, `default = "SQL expression"`, `max_length = N`,
/// `belongs_to = OtherModel`.
#[proc_macro_derive(Model, attributes(covet))]
pub fn derive_model(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

#[derive(Default)]
struct FieldAttrs {
    primary_key: bool,
    auto_increment: Option<Span>,
    column: Option<String>,
    unique: bool,
    index: bool,
    default: Option<String>,
    max_length: Option<u32>,
    belongs_to: Option<syn::Path>,
}

struct FieldInfo {
    ident: syn::Ident,
    ty: Type,
    attrs: FieldAttrs,
}

fn snake_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for (i, c) in s.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A SQL identifier written in an attribute must be plain: it goes into
/// DDL and queries quoted, but a NUL or an empty name is never meant.
fn check_ident(lit: &LitStr) -> syn::Result<String> {
    let v = lit.value();
    if v.is_empty() || v.len() > 63 || v.contains('\0') {
        return Err(syn::Error::new_spanned(
            lit,
            "a table or column name must be 1 to 63 characters without NUL",
        ));
    }
    Ok(v)
}

/// The struct-level attributes: the table name and the path of the
/// covet-orm crate as the user's code names it.
fn struct_attrs(input: &DeriveInput) -> syn::Result<(String, syn::Path)> {
    let mut table = None;
    let mut krate: Option<syn::Path> = None;
    for attr in &input.attrs {
        if !attr.path().is_ident("covet") {
            continue;
        }
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("table") {
                if table.is_some() {
                    return Err(meta.error("`table` given twice"));
                }
                let lit: LitStr = meta.value()?.parse()?;
                table = Some(check_ident(&lit)?);
                Ok(())
            } else if meta.path.is_ident("crate") {
                if krate.is_some() {
                    return Err(meta.error("`crate` given twice"));
                }
                let lit: LitStr = meta.value()?.parse()?;
                krate = Some(lit.parse()?);
                Ok(())
            } else {
                Err(meta.error(
                    "unknown struct attribute; the struct takes `#[covet(table = \"name\")]` \
                     and `#[covet(crate = \"path::to::covet_orm\")]`",
                ))
            }
        })?;
    }
    let table = table.unwrap_or_else(|| snake_case(&input.ident.to_string()));
    Ok((
        table,
        krate.unwrap_or_else(|| syn::parse_quote!(::covet_orm)),
    ))
}

fn field_attrs(field: &syn::Field) -> syn::Result<FieldAttrs> {
    let mut a = FieldAttrs::default();
    for attr in &field.attrs {
        if !attr.path().is_ident("covet") {
            continue;
        }
        attr.parse_nested_meta(|meta| {
            let p = &meta.path;
            let dup = |set: bool| -> syn::Result<()> {
                if set {
                    Err(meta.error("attribute given twice"))
                } else {
                    Ok(())
                }
            };
            if p.is_ident("primary_key") {
                dup(a.primary_key)?;
                a.primary_key = true;
            } else if p.is_ident("auto_increment") {
                dup(a.auto_increment.is_some())?;
                a.auto_increment = Some(p.span());
            } else if p.is_ident("unique") {
                dup(a.unique)?;
                a.unique = true;
            } else if p.is_ident("index") {
                dup(a.index)?;
                a.index = true;
            } else if p.is_ident("column") {
                dup(a.column.is_some())?;
                let lit: LitStr = meta.value()?.parse()?;
                a.column = Some(check_ident(&lit)?);
            } else if p.is_ident("default") {
                dup(a.default.is_some())?;
                let lit: LitStr = meta.value()?.parse()?;
                if lit.value().trim().is_empty() {
                    return Err(syn::Error::new_spanned(
                        lit,
                        "`default` needs a SQL expression, e.g. default = \"0\"",
                    ));
                }
                a.default = Some(lit.value());
            } else if p.is_ident("max_length") {
                dup(a.max_length.is_some())?;
                let lit: LitInt = meta.value()?.parse()?;
                let n: u32 = lit.base10_parse()?;
                if n == 0 || n > 65_535 {
                    return Err(syn::Error::new_spanned(
                        lit,
                        "`max_length` must be between 1 and 65535",
                    ));
                }
                a.max_length = Some(n);
            } else if p.is_ident("belongs_to") {
                dup(a.belongs_to.is_some())?;
                a.belongs_to = Some(meta.value()?.parse()?);
            } else {
                return Err(meta.error(
                    "unknown field attribute; expected one of primary_key, auto_increment, \
                     column, unique, index, default, max_length, belongs_to",
                ));
            }
            Ok(())
        })?;
    }
    Ok(a)
}

/// The last path segment of a type, looking through `Option<...>`.
fn base_type_name(ty: &Type) -> Option<(String, bool)> {
    let Type::Path(tp) = ty else { return None };
    let seg = tp.path.segments.last()?;
    if seg.ident == "Option" {
        if let syn::PathArguments::AngleBracketed(args) = &seg.arguments
            && let Some(syn::GenericArgument::Type(inner)) = args.args.first()
        {
            return base_type_name(inner).map(|(n, _)| (n, true));
        }
        return None;
    }
    Some((seg.ident.to_string(), false))
}

fn expand(input: &DeriveInput) -> syn::Result<TokenStream2> {
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &input.generics,
            "#[derive(Model)] does not support generic structs",
        ));
    }
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "#[derive(Model)] works on structs with named fields only",
        ));
    };
    let Fields::Named(named) = &data.fields else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "#[derive(Model)] works on structs with named fields only",
        ));
    };
    let (table, krate) = struct_attrs(input)?;
    let mut fields = Vec::new();
    for f in &named.named {
        let attrs = field_attrs(f)?;
        let ident = f.ident.clone().expect("named field");
        fields.push(FieldInfo {
            ident,
            ty: f.ty.clone(),
            attrs,
        });
    }
    if fields.is_empty() {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "a model needs at least one field",
        ));
    }

    // Checks that need the whole struct.
    let pk_count = fields.iter().filter(|f| f.attrs.primary_key).count();
    let mut auto_key = None;
    for (i, f) in fields.iter().enumerate() {
        let base = base_type_name(&f.ty);
        if let Some(span) = f.attrs.auto_increment {
            if !f.attrs.primary_key {
                return Err(syn::Error::new(
                    span,
                    "`auto_increment` needs `primary_key` on the same field",
                ));
            }
            if pk_count > 1 {
                return Err(syn::Error::new(
                    span,
                    "`auto_increment` cannot be part of a composite primary key",
                ));
            }
            match &base {
                Some((n, false)) if matches!(n.as_str(), "i16" | "i32" | "i64") => {}
                _ => {
                    return Err(syn::Error::new_spanned(
                        &f.ty,
                        "`auto_increment` needs an i16, i32 or i64 field (not Option)",
                    ));
                }
            }
            auto_key = Some(i);
        }
        if f.attrs.primary_key && matches!(base, Some((_, true))) {
            return Err(syn::Error::new_spanned(
                &f.ty,
                "a primary key field cannot be Option: primary keys are NOT NULL",
            ));
        }
        if f.attrs.max_length.is_some() && !matches!(&base, Some((n, _)) if n == "String") {
            return Err(syn::Error::new_spanned(
                &f.ty,
                "`max_length` applies to String fields only",
            ));
        }
    }
    if pk_count == 0 {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "a model needs a primary key: mark a field #[covet(primary_key)]",
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for f in &fields {
        let col = f
            .attrs
            .column
            .clone()
            .unwrap_or_else(|| f.ident.to_string());
        if !seen.insert(col.clone()) {
            return Err(syn::Error::new_spanned(
                &f.ident,
                format!("two fields map to the column `{col}`"),
            ));
        }
    }

    let name = &input.ident;
    let name_str = name.to_string();
    let mut column_defs = Vec::new();
    let mut reads = Vec::new();
    let mut values = Vec::new();
    let mut consts = Vec::new();
    let mut pk = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        let ident = &f.ident;
        let ty = &f.ty;
        let field_str = ident.to_string().trim_start_matches("r#").to_owned();
        let column = f.attrs.column.clone().unwrap_or_else(|| field_str.clone());
        let a = &f.attrs;
        let primary_key = a.primary_key;
        let auto = a.auto_increment.is_some();
        let unique = a.unique;
        let index = a.index;
        let default = match &a.default {
            Some(d) => quote!(::core::option::Option::Some(#d)),
            None => quote!(::core::option::Option::None),
        };
        let max_length = match a.max_length {
            Some(n) => quote!(::core::option::Option::Some(#n)),
            None => quote!(::core::option::Option::None),
        };
        // The relation constant (below) exists for non-null foreign keys;
        // its loading call is recorded for N+1 hints and error messages.
        let rel_name = match field_str.strip_suffix("_id") {
            Some(r) => r.to_uppercase(),
            None => format!("{}_REL", field_str.to_uppercase()),
        };
        let references = match &a.belongs_to {
            Some(path) => {
                let target = quote!(#path).to_string().replace(' ', "");
                let (hint, select_hint) = match base_type_name(ty) {
                    Some((_, false)) => {
                        let h = format!("prefetch({name_str}::{rel_name})");
                        let s = format!("select_related({name_str}::{rel_name})");
                        (
                            quote!(::core::option::Option::Some(#h)),
                            quote!(::core::option::Option::Some(#s)),
                        )
                    }
                    _ => (
                        quote!(::core::option::Option::None),
                        quote!(::core::option::Option::None),
                    ),
                };
                quote!(::core::option::Option::Some(__covet_orm::Reference {
                    model: #target,
                    meta: <#path as __covet_orm::Model>::meta,
                    prefetch_hint: #hint,
                    select_hint: #select_hint,
                }))
            }
            None => quote!(::core::option::Option::None),
        };
        if primary_key {
            pk.push(i);
        }
        column_defs.push(quote! {
            __covet_orm::ColumnDef {
                name: #column,
                field: #field_str,
                sql_type: <#ty as __covet_orm::Field>::SQL_TYPE,
                nullable: <#ty as __covet_orm::Field>::NULLABLE,
                primary_key: #primary_key,
                auto_increment: #auto,
                unique: #unique,
                index: #index,
                default: #default,
                max_length: #max_length,
                references: #references,
            }
        });
        reads.push(quote! { #ident: row.get::<#ty>(offset + #i)? });
        values.push(quote! { #i => __covet_orm::Field::to_value(&self.#ident) });
        if let (Some(target), Some((_, false))) = (&a.belongs_to, base_type_name(ty)) {
            let rel = format_ident!("{}", rel_name);
            let doc = format!(
                "The `{field_str}` relation to `{}`, for `select_related`.",
                quote!(#target).to_string().replace(' ', "")
            );
            consts.push(quote! {
                #[doc = #doc]
                pub const #rel: __covet_orm::Relation<#name, #target> =
                    __covet_orm::Relation::new(#i);
            });
        }
        let const_name = format_ident!("{}", field_str.to_uppercase());
        let doc = format!("The `{column}` column of `{table}` (field `{field_str}`).");
        consts.push(quote! {
            #[doc = #doc]
            pub const #const_name: __covet_orm::Column<#name, #ty> =
                __covet_orm::Column::new(#i, #column);
        });
    }
    let auto_key_tokens = match auto_key {
        Some(i) => quote!(::core::option::Option::Some(#i)),
        None => quote!(::core::option::Option::None),
    };
    let set_auto = match auto_key {
        Some(i) => {
            let f = &fields[i];
            let ident = &f.ident;
            let ty = &f.ty;
            quote! {
                self.#ident = <#ty as __covet_orm::__private::FromValue>::from_value(value)
                    .map_err(|e| __covet_orm::__private::Error::decode(
                        ::std::format!("generated key of {}: {e}", #name_str)))?;
                ::core::result::Result::Ok(())
            }
        }
        None => quote! {
            let _ = value;
            ::core::result::Result::Ok(())
        },
    };
    // Inside an unnamed const, as serde does, so the generated code names
    // the crate through one alias: `::covet_orm` by default, `covet::orm`
    // (or any path) for users who depend on the facade only.
    Ok(quote! {
        const _: () = {
        use #krate as __covet_orm;

        impl __covet_orm::Model for #name {
            fn meta() -> &'static __covet_orm::ModelMeta {
                static META: __covet_orm::ModelMeta = __covet_orm::ModelMeta {
                    name: #name_str,
                    table: #table,
                    columns: &[#(#column_defs),*],
                    primary_key: &[#(#pk),*],
                    auto_key: #auto_key_tokens,
                };
                &META
            }

            fn from_row_at(
                row: &__covet_orm::__private::Row,
                offset: usize,
            ) -> __covet_orm::__private::Result<Self> {
                ::core::result::Result::Ok(Self { #(#reads),* })
            }

            fn value_at(&self, idx: usize) -> __covet_orm::__private::Value {
                match idx {
                    #(#values,)*
                    _ => __covet_orm::__private::Value::Null,
                }
            }

            fn set_auto_key(
                &mut self,
                value: &__covet_orm::__private::Value,
            ) -> __covet_orm::__private::Result<()> {
                #set_auto
            }
        }

        #[allow(missing_docs)]
        impl #name {
            #(#consts)*
        }
        };
    })
}

#[cfg(test)]
mod tests {
    use super::snake_case;

    #[test]
    fn snake_cases_type_names() {
        assert_eq!(snake_case("User"), "user");
        assert_eq!(snake_case("PostTag"), "post_tag");
    }
}
