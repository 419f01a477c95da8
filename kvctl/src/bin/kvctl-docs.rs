//! `kvctl-docs OUTDIR`: writes kvctl's man pages (OUTDIR/man/*.1) and its
//! bash, zsh and fish completions (OUTDIR/completions/) for packaging; they are
//! made from the clap definition that kvctl itself parses with.

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(outdir), None) = (args.next(), args.next()) else {
        eprintln!("usage: kvctl-docs OUTDIR");
        return ExitCode::from(2);
    };
    match kvctl::docs::generate(outdir.as_ref()) {
        Ok(files) => {
            for f in files {
                println!("{}", f.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kvctl-docs: {}: {e}", outdir.to_string_lossy());
            ExitCode::FAILURE
        }
    }
}
