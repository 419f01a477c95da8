//! Man pages and shell completions made from kvctl's clap definition, for
//! packaging: `kvctl-docs OUTDIR` writes OUTDIR/man/kvctl.1, one
//! OUTDIR/man/kvctl-SUBCOMMAND.1 per subcommand, and
//! OUTDIR/completions/{kvctl.bash,_kvctl,kvctl.fish}.

use crate::keystore::{EXT, KEYS_ENV};
use crate::{Cli, FD_ENV};
use clap::{Command, CommandFactory};
use clap_complete::Shell;
use clap_mangen::roff::{bold, roman, Roff};
use clap_mangen::Man;
use keyvault::KEY_ENV_PREFIX;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The manual section of every page.
const SECTION: &str = "1";

/// kvctl.1's DESCRIPTION (`kvctl --help` keeps its shorter about).
fn description() -> String {
    format!(
        "keyvault keeps cryptographic keys in kernel memory, behind the device \
         /dev/keyvault. A program opens the device, has keys generated or \
         imported there, and from then on holds only their ids: the kernel \
         encrypts, decrypts, computes MACs, signs, verifies and derives with \
         them, and there is no way to read the key bytes back.\n\
         \n\
         kvctl runs these operations from the command line, one subcommand \
         each; kvctl-SUBCOMMAND(1) describes each of them.\n\
         \n\
         Each open of /dev/keyvault is a vault, and its keys live as long as \
         its file descriptor. One kvctl command on its own opens a new vault \
         that is gone when it exits, so to keep keys across commands either \
         run several in one process (kvctl batch), or open one vault and hand \
         it to a child (kvctl exec -- CMD): every kvctl run inside CMD uses it \
         through ${FD_ENV}.\n\
         \n\
         A key made --wrappable can leave the kernel, encrypted under a \
         wrapping key (kvctl wrap, kvctl unwrap); a keystore directory keeps \
         such keys across reboots, wrapped under a key derived from a root in \
         the kernel keyring (kvctl keystore add; kvctl exec --keystore DIR \
         --root KEY loads them). No key byte passes through kvctl."
    )
}

/// kvctl.1's sections on the environment and files.
fn environment_and_files() -> Roff {
    let mut r = Roff::new();
    r.control("SH", ["ENVIRONMENT"]);
    r.control("TP", []);
    r.text([bold(FD_ENV)]);
    r.text([roman(
        "The number of an open /dev/keyvault file descriptor: kvctl uses that \
         vault instead of opening a new one. kvctl exec sets it for the command \
         it runs.",
    )]);
    r.control("TP", []);
    r.text([
        bold(format!("{KEY_ENV_PREFIX}NAME")),
        roman(", "),
        bold(KEYS_ENV),
    ]);
    r.text([roman(
        "Set by kvctl exec --keystore for the command it runs: the id of each \
         key it loaded from the keystore (NAME in upper case, - as _), and all \
         of them as NAME=ID pairs separated by spaces.",
    )]);
    r.control("SH", ["FILES"]);
    r.control("TP", []);
    r.text([bold("/dev/keyvault")]);
    r.text([roman(
        "The keyvault device. Each open of it is a new, empty vault.",
    )]);
    r.control("TP", []);
    r.text([bold(format!("DIR/NAME.{EXT}"))]);
    r.text([roman(
        "A keystore's keys (kvctl keystore): native blobs, each the key NAME \
         wrapped under the keystore's wrapping key.",
    )]);
    r
}

/// The pages' date: that of $SOURCE_DATE_EPOCH (set by package builds, for
/// reproducible output), else today's. (.TH needs one: clap_mangen leaves an
/// empty date out, and the source would take its place.)
fn page_date() -> String {
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        });
    ymd(secs)
}

/// YYYY-MM-DD (UTC) of a Unix time, by H. Hinnant's civil_from_days.
fn ymd(secs: u64) -> String {
    let z = secs / 86_400 + 719_468;
    let (era, doe) = (z / 146_097, z % 146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = era * 400 + yoe + u64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Writes the man pages and the bash, zsh and fish completions into `outdir`
/// (creating its man/ and completions/ directories); returns the files written.
pub fn generate(outdir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();

    let completions = outdir.join("completions");
    std::fs::create_dir_all(&completions)?;
    let mut cmd = Cli::command();
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        written.push(clap_complete::generate_to(
            shell,
            &mut cmd,
            "kvctl",
            &completions,
        )?);
    }

    let man = outdir.join("man");
    std::fs::create_dir_all(&man)?;
    // Like clap_mangen::generate_to: no page for `help`.
    let mut cmd = Cli::command()
        .long_about(description())
        .disable_help_subcommand(true);
    cmd.build();
    write_pages(&man, &cmd, None, &page_date(), &mut written)?;
    Ok(written)
}

/// A command's page name: kvctl, kvctl-genkey, ...
fn page_name(cmd: &Command) -> &str {
    cmd.get_display_name().unwrap_or_else(|| cmd.get_name())
}

/// Writes the pages of `cmd` and its subcommands; `parent` is the page of the
/// command it is a subcommand of.
fn write_pages(
    dir: &Path,
    cmd: &Command,
    parent: Option<&str>,
    date: &str,
    written: &mut Vec<PathBuf>,
) -> io::Result<()> {
    // No page for `help`, at any level (clap adds it to `kvctl keystore` too).
    let subs: Vec<&Command> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        .collect();
    let see_also: Vec<&str> = parent
        .into_iter()
        .chain(subs.iter().map(|s| page_name(s)))
        .collect();
    let extra = match parent {
        None => environment_and_files(),
        Some(_) => Roff::new(),
    };
    written.push(write_page(dir, cmd, date, &extra, &see_also)?);
    for sub in subs {
        write_pages(dir, sub, Some(page_name(cmd)), date, written)?;
    }
    Ok(())
}

/// Writes one page: clap_mangen's sections, then `extra`, SEE ALSO and VERSION.
fn write_page(
    dir: &Path,
    cmd: &Command,
    date: &str,
    extra: &Roff,
    see_also: &[&str],
) -> io::Result<PathBuf> {
    let man = Man::new(cmd.clone())
        .title(page_name(cmd).to_uppercase())
        .section(SECTION)
        .date(date)
        .source(format!("kvctl {}", env!("CARGO_PKG_VERSION")));

    let mut also = Roff::new();
    if !see_also.is_empty() {
        also.control("SH", ["SEE ALSO"]);
        let mut refs = Vec::new();
        for (i, page) in see_also.iter().enumerate() {
            let sep = if i + 1 < see_also.len() { ", " } else { "" };
            refs.push(bold(*page));
            refs.push(roman(format!("({SECTION}){sep}")));
        }
        also.text(refs);
    }

    // Every render starts with roff's definition of the apostrophe string:
    // keep it once, after .TH, so that the page starts with .TH.
    let preamble = Roff::new().render();
    let section = |render: &dyn Fn(&mut dyn Write) -> io::Result<()>| -> io::Result<String> {
        let mut buf = Vec::new();
        render(&mut buf)?;
        let s = String::from_utf8(buf).map_err(io::Error::other)?;
        Ok(s.strip_prefix(preamble.as_str()).unwrap_or(&s).to_string())
    };
    let mut page = section(&|w| man.render_title(w))?;
    page += &preamble;
    page += &section(&|w| man.render_name_section(w))?;
    page += &section(&|w| man.render_synopsis_section(w))?;
    page += &section(&|w| man.render_description_section(w))?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        page += &section(&|w| man.render_options_section(w))?;
    }
    if cmd.has_subcommands() {
        page += &section(&|w| man.render_subcommands_section(w))?;
    }
    if cmd.get_after_help().is_some() || cmd.get_after_long_help().is_some() {
        page += &section(&|w| man.render_extra_section(w))?;
    }
    page += &section(&|w| extra.to_writer(w))?;
    page += &section(&|w| also.to_writer(w))?;
    if cmd.get_version().is_some() {
        page += &section(&|w| man.render_version_section(w))?;
    }

    let path = dir.join(man.get_filename());
    std::fs::write(&path, page)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory for one test, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(test: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("kvctl-{test}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            TempDir(dir)
        }

        fn read(&self, path: &str) -> String {
            let p = self.0.join(path);
            std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// kvctl's subcommands, as it parses them (`help` aside).
    fn subcommands() -> Vec<String> {
        let names: Vec<String> = Cli::command()
            .get_subcommands()
            .map(|c| c.get_name().to_string())
            .collect();
        for known in ["genkey", "info", "verify-mac", "batch", "exec"] {
            assert!(names.iter().any(|n| n == known), "{known} in {names:?}");
        }
        names
    }

    /// Checks that `page` is a man page in the roff that clap_mangen writes:
    /// .TH first, every line a known request or a text line, the sections there.
    fn check_roff(page: &str, title: &str, sections: &[&str]) {
        let first = page.lines().next().unwrap_or_default();
        let th: Vec<&str> = first.splitn(5, ' ').collect();
        assert_eq!(th[..3], [".TH", title, "1"], "{first}");
        let date = th[3].as_bytes();
        assert!(
            date.len() == 10 && date[4] == b'-' && date[7] == b'-',
            "no YYYY-MM-DD date: {first}"
        );
        let source = format!("\"kvctl {}\"", env!("CARGO_PKG_VERSION"));
        assert_eq!(th[4].trim_end(), source, "{first}");

        let requests = ["TH", "SH", "TP", "IP", "PP", "RS", "RE", "br", "ie", "el"];
        for line in page.lines() {
            if let Some(req) = line.strip_prefix('.') {
                let name = req.split(' ').next().unwrap_or_default();
                assert!(requests.contains(&name), "{title}: unknown request: {line}");
            } else {
                assert!(!line.starts_with('\''), "{title}: control line: {line}");
            }
        }
        assert_eq!(page.matches(".TH ").count(), 1, "{title}");
        if let Some(warnings) = groff_warnings(page) {
            assert_eq!(warnings, "", "{title}: groff warns");
        }
        for s in sections {
            let sh = if s.contains(' ') {
                format!(".SH \"{s}\"\n")
            } else {
                format!(".SH {s}\n")
            };
            assert!(page.contains(&sh), "{title}: no {s} section");
        }
    }

    /// What groff says about `page` with every warning on (None: no groff here).
    fn groff_warnings(page: &str) -> Option<String> {
        use std::process::{Command, Stdio};
        let mut groff = Command::new("groff")
            .args(["-man", "-ww", "-z"])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .ok()?;
        groff
            .stdin
            .take()
            .unwrap()
            .write_all(page.as_bytes())
            .unwrap();
        let out = groff.wait_with_output().unwrap();
        assert!(out.status.success(), "groff: {}", out.status);
        Some(String::from_utf8_lossy(&out.stderr).into_owned())
    }

    /// The page of subcommand `sub` (`genkey`, `keystore-add`) and its
    /// title, checked for the sections every subcommand page has.
    fn sub_page(tmp: &TempDir, sub: &str) -> (String, String) {
        let page = tmp.read(&format!("man/kvctl-{sub}.1"));
        let title = format!("KVCTL-{}", sub.to_uppercase());
        check_roff(
            &page,
            &title,
            &["NAME", "SYNOPSIS", "DESCRIPTION", "SEE ALSO"],
        );
        (page, title)
    }

    #[test]
    fn docs_have_a_page_and_completions_for_every_subcommand() {
        let tmp = TempDir::new("docs");
        let written = generate(&tmp.0).unwrap();
        let subs = subcommands();
        // `kvctl keystore` and `kvctl agent` have subcommands of their own,
        // with pages of their own.
        let nested = ["keystore-add", "keystore-list", "agent-list", "agent-exec"];
        assert_eq!(
            written.len(),
            3 + 1 + subs.len() + nested.len(),
            "{written:?}"
        );
        for sub in nested {
            let (page, title) = sub_page(&tmp, sub);
            let parent = sub.split('-').next().unwrap();
            assert!(
                page.contains(&format!("\\fBkvctl\\-{parent}\\fR(1)")),
                "{title}: SEE ALSO"
            );
        }
        assert!(!tmp.0.join("man/kvctl-keystore-help.1").exists());
        for f in &written {
            assert!(f.starts_with(&tmp.0) && f.is_file(), "{}", f.display());
        }

        let top = tmp.read("man/kvctl.1");
        check_roff(
            &top,
            "KVCTL",
            &[
                "NAME",
                "SYNOPSIS",
                "DESCRIPTION",
                "OPTIONS",
                "SUBCOMMANDS",
                "ENVIRONMENT",
                "FILES",
                "SEE ALSO",
                "VERSION",
            ],
        );
        assert!(top.contains("/dev/keyvault"));
        assert!(top.contains("\\fBKEYVAULT_FD\\fR"));
        assert!(top.contains(&format!("v{}", env!("CARGO_PKG_VERSION"))));
        let see_also = &top[top.find(".SH \"SEE ALSO\"").unwrap()..];
        for sub in &subs {
            let roff_name = sub.replace('-', "\\-");
            assert!(
                top.contains(&format!("kvctl\\-{roff_name}(1)\n")),
                "kvctl.1 has no {sub} in SUBCOMMANDS"
            );
            assert!(
                see_also.contains(&format!("\\fBkvctl\\-{roff_name}\\fR(1)")),
                "kvctl.1 has no {sub} in SEE ALSO"
            );

            let (page, title) = sub_page(&tmp, sub);
            assert!(
                page.contains(&format!("\\fBkvctl {roff_name}\\fR")),
                "{title}: synopsis"
            );
            assert!(page.contains("\\fBkvctl\\fR(1)"), "{title}: SEE ALSO");
        }
        assert!(!tmp.0.join("man/kvctl-help.1").exists());

        // What each shell offers after `kvctl `: bash's opts for the kvctl
        // case, zsh's NAME:ABOUT list, fish's arguments without a command yet.
        let bash = tmp.read("completions/kvctl.bash");
        assert!(bash.contains("complete -F _kvctl"), "bash: not registered");
        let top_opts = bash
            .split("\n        kvctl)\n")
            .nth(1)
            .and_then(|case| case.trim_start().strip_prefix("opts=\""))
            .and_then(|opts| opts.split('"').next())
            .expect("bash: no opts for kvctl");
        let zsh = tmp.read("completions/_kvctl");
        let fish = tmp.read("completions/kvctl.fish");
        for sub in &subs {
            assert!(
                top_opts.split(' ').any(|w| w == sub),
                "bash does not complete {sub}: {top_opts}"
            );
            assert!(zsh.contains(&format!("\n'{sub}:")), "zsh: no {sub}");
            assert!(
                fish.contains(&format!("needs_command\" -f -a \"{sub}\"")),
                "fish: no {sub}"
            );
        }
    }

    #[test]
    fn dates_are_utc_days() {
        assert_eq!(ymd(0), "1970-01-01");
        assert_eq!(ymd(951_782_400), "2000-02-29");
        assert_eq!(ymd(1_700_000_000), "2023-11-14");
        assert_eq!(ymd(4_107_542_400), "2100-03-01");
        assert_eq!(ymd(253_402_300_799), "9999-12-31");
    }
}
