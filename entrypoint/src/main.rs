//! The `tkc-entrypoint` binary: see the library for what it does.

fn main() {
    // Arguments are not required to be UTF-8; a lossy conversion beats a panic.
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    std::process::exit(tkc_entrypoint::main(args));
}
