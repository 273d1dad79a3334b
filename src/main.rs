//! The `tollgate` command line: a thin shell over the library.

fn main() {
    eprintln!("tollgate: no subcommands yet");
    std::process::exit(2);
}
