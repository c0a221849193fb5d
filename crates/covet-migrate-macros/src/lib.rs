//! `embed_migrations!("dir")`: lists a migrations directory at compile time
//! and embeds each `.sql` file with `include_str!`, so an application that
//! migrates at start-up carries its migrations in its binary.
//!
//! The directory is relative to the crate being compiled
//! (`CARGO_MANIFEST_DIR`). Each file is included with `include_str!`, so
//! editing one rebuilds the crate; a file *added* to the directory is seen
//! only on the next rebuild of the crate, which a build script with
//! `println!("cargo:rerun-if-changed=migrations")` forces.

use std::path::PathBuf;

use proc_macro::TokenStream;
use quote::quote;
use syn::{LitStr, parse_macro_input};

/// Embeds every `*.sql` file of a directory (relative to the crate's
/// `Cargo.toml`) and expands to a
/// `Result<covet_migrate::Migrations, covet_migrate::MigrateError>`, the
/// same value `Migrations::from_dir` returns for that directory at run time.
///
/// ```text
/// let migrations = covet_migrate::embed_migrations!("migrations")?;
/// ```
#[proc_macro]
pub fn embed_migrations(input: TokenStream) -> TokenStream {
    let lit = parse_macro_input!(input as LitStr);
    match expand(&lit) {
        Ok(ts) => ts.into(),
        Err(msg) => syn::Error::new(lit.span(), msg).to_compile_error().into(),
    }
}

fn expand(lit: &LitStr) -> Result<proc_macro2::TokenStream, String> {
    let root = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .ok_or("CARGO_MANIFEST_DIR is not set: embed_migrations! must be built by cargo")?;
    let dir = root.join(lit.value());
    let entries = std::fs::read_dir(&dir)
        .map_err(|e| format!("cannot list migrations directory {}: {e}", dir.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("reading {}: {e}", dir.display()))?;
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "sql") {
            let name = entry
                .file_name()
                .into_string()
                .map_err(|n| format!("file name is not UTF-8: {n:?}"))?;
            let full = path
                .to_str()
                .ok_or_else(|| format!("path is not UTF-8: {}", path.display()))?
                .to_owned();
            files.push((name, full));
        }
    }
    // A stable order keeps the expansion reproducible across file systems.
    files.sort();
    let pairs = files
        .iter()
        .map(|(name, full)| quote! { (#name, ::core::include_str!(#full)) });
    Ok(quote! {
        ::covet_migrate::Migrations::from_files(&[#(#pairs),*])
    })
}
