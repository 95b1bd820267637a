//! `tkc schema`: writes the JSON Schemas (Tekton resources for editors, and the plan).

use crate::exit;
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct SchemaArgs {
    /// The folder to write the schema files to.
    #[arg(long, value_name = "DIR", default_value = "schemas")]
    out_dir: PathBuf,
}

pub fn run(args: SchemaArgs) -> u8 {
    if let Err(e) = std::fs::create_dir_all(&args.out_dir) {
        eprintln!("error: cannot create {}: {e}", args.out_dir.display());
        return exit::USAGE;
    }
    for (name, schema) in tkc_compiler::schema::all() {
        let path = args.out_dir.join(name);
        if let Err(e) = std::fs::write(&path, tkc_compiler::schema::to_text(&schema)) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return exit::USAGE;
        }
        println!("{}", path.display());
    }
    exit::OK
}
