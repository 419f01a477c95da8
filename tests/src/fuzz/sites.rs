//! keyvault.ko as a coverage target: its coverage sites and functions, read
//! from the module's ELF file (`--module`), placed where the loaded module's
//! sections are, and the coverage report.
//!
//! **Sites.** The instrumentation is a call to `__sanitizer_cov_trace_pc` on
//! every edge, and kcov records the call's return address (`_RET_IP_`, less
//! the KASLR offset on a CONFIG_RANDOMIZE_BASE kernel). In the .ko each such
//! call carries a relocation against that symbol, so the sites are the ends
//! of the call instructions with one. Plus the section's load address
//! (/sys/module/keyvault/sections/NAME, root only) that is the PC kcov
//! reports, up to one constant for the whole kernel, which
//! [`Module::calibrate`] finds from the trace of an ioctl — checking on the
//! way that the file is the loaded module.
//!
//! A site is a **failure** site when the code it starts (up to the next
//! jump or return) calls a sanitizer's report (`__asan_report_*`,
//! `__ubsan_handle_*`...) or a Rust panic (overflow, bounds, unwrap), or
//! traps (`ud2`: BUG, WARN): it runs only when a check fails. On the debug
//! kernel a third of the sites are failures, KASAN's mostly, so the report
//! also gives the PC figure without them.
//!
//! **Functions** are the symbol table's function symbols (aliases once),
//! counted when they have sites; one is entered when a site of it was hit.
//!
//! **Reachable** are the functions kv-fuzz can enter at all. It opens the
//! device, issues ioctls and closes fds, nothing else, so the roots are the
//! misc device's `open`, `ioctl`, `compat_ioctl` and `release` callbacks
//! (`<kernel::miscdevice::MiscdeviceVTable<_>>::{open,ioctl,...}`; without
//! an `ioctl` among them there is no reachability figure), and a function is
//! reachable when a chain of references leads to it from a root: calls,
//! jumps and taken addresses in code (from relocations, and from the decoded
//! instructions for references within a section, which have none), and
//! through data (a reference to data reaches what that data refers to; data
//! is cut into objects at every symbol and every address referred to). The
//! chain does not go
//! - into `.init*` and `.exit*` sections, which only the module loader
//!   calls, at load and unload: module init and exit are out, and so is what
//!   only they lead to (e.g. the debugfs stats file's callbacks, whose file
//!   operations only init registers);
//! - out of the tracepoint structures (section `__tracepoints`) and static
//!   call trampolines (`.static_call.text`): they lead to a tracepoint's
//!   iterator and probe stub, which run only while a tracer is attached, and
//!   kv-fuzz attaches none. The probes a tracer attaches (the functions
//!   `trace_event_raw_event_*`, `perf_trace_*`, `__bpf_trace_*`,
//!   `trace_raw_output_*`) are referred to only by the trace events' data,
//!   which no code refers to.
//!
//! A reference is not always a call that can happen, so "reachable" errs on
//! the side of too many; and it is checked the other way at the end of every
//! run: a function entered that the rule calls unreachable is reported as a
//! fault of the rule. The functions out of reach are listed by why, from all
//! references: those that only module init or exit (code and data of the
//! `.init*`/`.exit*` sections) lead to; those that only the tracepoints and
//! trace events (the sections in [`TRACING`]) lead to; and those that no code
//! leads to at all, in a Rust module mostly outlined copies of generic
//! functions that every caller inlined.

use super::kcov::Coverage;
use iced_x86::{Decoder, DecoderOptions, Mnemonic, OpKind};
use object::{
    elf, Architecture, Object, ObjectSection, ObjectSymbol, RelocationKind, RelocationTarget,
    SectionFlags, SectionKind, SymbolKind, SymbolSection,
};
use std::collections::{BTreeMap, HashMap};

/// What kv-fuzz does to the device: the roots of reachability.
const ROOTS: [&str; 4] = ["open", "ioctl", "compat_ioctl", "release"];
/// Sections whose references lead only where a tracer's probes go.
const TRACER_ONLY: [&str; 2] = ["__tracepoints", ".static_call.text"];
/// The sections of the tracepoints and trace events: what they lead to runs
/// only for a tracer (said of the functions out of reach).
const TRACING: [&str; 4] = [
    "__tracepoints",
    ".static_call.text",
    "_ftrace_events",
    "__bpf_raw_tp_map",
];
const COV_CALL: &str = "__sanitizer_cov_trace_pc";

struct Func {
    name: String,
    /// Its coverage sites (indexes into `Module::sites`).
    sites: Vec<usize>,
    reach: Reach,
}

/// Whether kv-fuzz can enter a function, or why not.
#[derive(Clone, Copy, PartialEq)]
enum Reach {
    /// Reachable from open/ioctl/close.
    Ioctl,
    /// Only from module init or exit.
    LoadUnload,
    /// Only from the tracepoints and trace events.
    Tracer,
    /// From no code at all: an outlined copy of a generic function that
    /// every caller inlined, or code only such copies refer to.
    NoCaller,
}

impl Func {
    fn reachable(&self) -> bool {
        self.reach == Reach::Ioctl
    }
}

pub struct Module {
    path: String,
    funcs: Vec<Func>,
    /// Coverage sites: (PC as kcov reports it, function).
    sites: Vec<Site>,
    /// Code sections in memory: (first PC as kcov reports it, length).
    code: Vec<(u64, u64)>,
    /// Section names, by index.
    names: HashMap<usize, String>,
}

/// Where a section of the loaded module is (its name, e.g. `.text`).
fn load_address(section: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/sys/module/keyvault/sections/{section}")).ok()?;
    u64::from_str_radix(s.trim().trim_start_matches("0x"), 16)
        .ok()
        .filter(|&a| a != 0)
}

/// (section, offset) of a place in the relocatable file.
type Loc = (usize, u64);
/// A reference: (from, to).
type Ref = (Loc, Loc);
struct Site {
    /// As kcov reports it.
    pc: u64,
    func: usize,
    /// Where in the file (the return address of the call).
    at: Loc,
    failure: bool,
}

/// A relocation of a section: at `off`, to `to` = symbol + addend (None: a
/// symbol of the kernel), which is what `call` says.
struct Reloc {
    off: u64,
    call: Callee,
    to: Option<Loc>,
    pc_relative: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum Callee {
    Coverage,
    /// A sanitizer's report or a panic.
    Failure,
    Other,
}

impl Callee {
    fn of(name: &str) -> Callee {
        const SANITIZERS: [&str; 3] = ["__asan_report", "__kasan_report", "__ubsan_handle"];
        let rust = format!("{:#}", rustc_demangle::demangle(name));
        if name == COV_CALL {
            Callee::Coverage
        } else if SANITIZERS.iter().any(|p| name.starts_with(p))
            || rust.starts_with("core::panicking::")
            || rust.contains("::panic")
            || rust.ends_with("_fail")
            || rust.ends_with("_failed")
        {
            Callee::Failure
        } else {
            Callee::Other
        }
    }
}

/// The parts of the ELF file the figures need.
struct Elf {
    names: HashMap<usize, String>,
    /// Code sections: size and load address (None: not loaded).
    code: BTreeMap<usize, (u64, Option<u64>)>,
    funcs: Vec<Func>,
    /// Functions by (section, start): (size, index into `funcs`).
    func_at: BTreeMap<Loc, (u64, usize)>,
    /// Symbol starts, per section.
    cuts: HashMap<usize, Vec<u64>>,
    /// Relocations of the allocated sections, by offset.
    relocs: BTreeMap<usize, Vec<Reloc>>,
}

impl Elf {
    fn read(file: &object::File<'_>) -> Result<Elf, object::Error> {
        let mut e = Elf {
            names: HashMap::new(),
            code: BTreeMap::new(),
            funcs: Vec::new(),
            func_at: BTreeMap::new(),
            cuts: HashMap::new(),
            relocs: BTreeMap::new(),
        };
        for s in file.sections() {
            let name = s.name()?.to_string();
            if s.kind() == SectionKind::Text {
                e.code.insert(s.index().0, (s.size(), load_address(&name)));
            }
            if matches!(s.flags(), SectionFlags::Elf { sh_flags, .. } if sh_flags.contains(elf::SHF_ALLOC))
            {
                let mut relocs = Vec::new();
                for (off, rel) in s.relocations() {
                    let RelocationTarget::Symbol(si) = rel.target() else {
                        continue;
                    };
                    let sym = file.symbol_by_index(si)?;
                    relocs.push(Reloc {
                        off,
                        call: Callee::of(sym.name()?),
                        to: match sym.section() {
                            SymbolSection::Section(ts) => {
                                Some((ts.0, sym.address().wrapping_add(rel.addend() as u64)))
                            }
                            _ => None,
                        },
                        pc_relative: matches!(
                            rel.kind(),
                            RelocationKind::Relative | RelocationKind::PltRelative
                        ),
                    });
                }
                relocs.sort_by_key(|r| r.off);
                e.relocs.insert(s.index().0, relocs);
            }
            e.names.insert(s.index().0, name);
        }
        for sym in file.symbols() {
            let SymbolSection::Section(sec) = sym.section() else {
                continue;
            };
            e.cuts.entry(sec.0).or_default().push(sym.address());
            let at = (sec.0, sym.address());
            if sym.kind() == SymbolKind::Text
                && sym.size() > 0
                && e.code.contains_key(&sec.0)
                && !e.func_at.contains_key(&at)
            {
                e.func_at.insert(at, (sym.size(), e.funcs.len()));
                e.funcs.push(Func {
                    name: format!("{:#}", rustc_demangle::demangle(sym.name()?)),
                    sites: Vec::new(),
                    reach: Reach::NoCaller,
                });
            }
        }
        Ok(e)
    }

    fn func_of(&self, (sec, off): Loc) -> Option<usize> {
        let (&(s, start), &(size, f)) = self.func_at.range(..=(sec, off)).next_back()?;
        (s == sec && off < start + size).then_some(f)
    }

    /// Decodes the functions of the code sections: every reference they
    /// make, as (from, to), and the coverage sites (at their load address).
    fn code_refs(&self, file: &object::File<'_>) -> Result<(Vec<Ref>, Vec<Site>), object::Error> {
        let mut refs = Vec::new();
        let mut sites: Vec<Site> = Vec::new();
        for (&(sec, start), &(size, f)) in &self.func_at {
            let bytes = file.section_by_index(object::SectionIndex(sec))?.data()?;
            let Some(body) = bytes.get(start as usize..(start + size) as usize) else {
                continue;
            };
            let relocs = self.relocs.get(&sec).map_or(&[][..], |r| &r[..]);
            let base = self.code[&sec].1;
            let mut decoder = Decoder::with_ip(64, body, start, DecoderOptions::NONE);
            // The site whose code this is, until a jump or return.
            let mut block: Option<usize> = None;
            while decoder.can_decode() {
                let insn = decoder.decode();
                let (ip, end) = (insn.ip(), insn.next_ip());
                if let (Some(b), Mnemonic::Ud2) = (block, insn.mnemonic()) {
                    sites[b].failure = true;
                }
                let jumps =
                    insn.op0_kind() == OpKind::NearBranch64 && insn.mnemonic() != Mnemonic::Call;
                if jumps
                    || matches!(
                        insn.mnemonic(),
                        Mnemonic::Jmp | Mnemonic::Ret | Mnemonic::Ud2
                    )
                {
                    block = None;
                }
                let first = relocs.partition_point(|r| r.off < ip);
                let mine = relocs[first..].iter().take_while(|r| r.off < end);
                let mut relocated = false;
                for r in mine {
                    relocated = true;
                    if r.call == Callee::Coverage {
                        block = base.map(|b| {
                            sites.push(Site {
                                pc: b + end,
                                func: f,
                                at: (sec, end),
                                failure: false,
                            });
                            sites.len() - 1
                        });
                        continue;
                    }
                    if let (Some(b), Callee::Failure) = (block, r.call) {
                        sites[b].failure = true;
                    }
                    if let Some((ts, v)) = r.to {
                        // The CPU adds the operand to the next instruction's
                        // address; the relocation made it S + A - P.
                        let t = if r.pc_relative {
                            v.wrapping_add(end - r.off)
                        } else {
                            v
                        };
                        refs.push(((sec, start), (ts, t)));
                    }
                }
                if relocated {
                    continue;
                }
                if insn.op0_kind() == OpKind::NearBranch64 {
                    refs.push(((sec, start), (sec, insn.near_branch64())));
                } else if insn.is_ip_rel_memory_operand() {
                    refs.push(((sec, start), (sec, insn.ip_rel_memory_address())));
                }
            }
        }
        Ok((refs, sites))
    }

    /// The references data makes: (from, to). A PC-relative entry in data
    /// (`.long sym - .`) refers to symbol + addend too.
    fn data_refs(&self) -> Vec<Ref> {
        let mut refs = Vec::new();
        for (&sec, relocs) in &self.relocs {
            if self.code.contains_key(&sec) {
                continue;
            }
            for r in relocs {
                if let Some(to) = r.to {
                    refs.push(((sec, r.off), to));
                }
            }
        }
        refs
    }

    /// Why each function can be entered or not (the rule of the module's
    /// documentation), or why there is no answer.
    fn reach(&self, refs: &[Ref]) -> Result<Vec<Reach>, String> {
        let mut cuts = self.cuts.clone();
        for &(_, (sec, off)) in refs {
            if !self.code.contains_key(&sec) {
                cuts.entry(sec).or_default().push(off);
            }
        }
        for c in cuts.values_mut() {
            c.sort_unstable();
            c.dedup();
        }
        // Nodes: the functions, then the data objects.
        let mut objects = HashMap::new();
        let mut node = |(sec, off): Loc| -> Option<usize> {
            if self.code.contains_key(&sec) {
                return self.func_of((sec, off));
            }
            let c = cuts.get(&sec)?;
            let start = c[c.partition_point(|&s| s <= off).checked_sub(1)?];
            let next = self.funcs.len() + objects.len();
            Some(*objects.entry((sec, start)).or_insert(next))
        };
        // The rule's edges, and all of them (to say why the rest is out).
        let (mut rule, mut all) = (Vec::new(), Vec::new());
        for &(from, to) in refs {
            let (Some(a), Some(b)) = (node(from), node(to)) else {
                continue;
            };
            all.push((a, b));
            let (fname, tname) = (&self.names[&from.0], &self.names[&to.0]);
            if !TRACER_ONLY.contains(&fname.as_str()) && !is_load_unload(tname) {
                rule.push((a, b));
            }
        }
        // Where what only the loader or a tracer runs starts.
        let mut loader = Vec::new();
        let mut tracer = Vec::new();
        for (&(sec, _), &(_, f)) in &self.func_at {
            let name = self.names[&sec].as_str();
            if is_load_unload(name) {
                loader.push(f);
            } else if TRACING.contains(&name) {
                tracer.push(f);
            }
        }
        for (&sec, c) in &cuts {
            let name = self.names[&sec].as_str();
            let to = if is_load_unload(name) {
                &mut loader
            } else if TRACING.contains(&name) {
                &mut tracer
            } else {
                continue;
            };
            to.extend(c.iter().filter_map(|&off| node((sec, off))));
        }
        let ioctl: Vec<usize> = (0..self.funcs.len())
            .filter(|&i| {
                let name = &self.funcs[i].name;
                name.contains("miscdevice::MiscdeviceVTable<")
                    && ROOTS.iter().any(|r| name.ends_with(&format!(">>::{r}")))
            })
            .collect();
        if !ioctl
            .iter()
            .any(|&r| self.funcs[r].name.ends_with(">>::ioctl"))
        {
            return Err("no <kernel::miscdevice::MiscdeviceVTable<_>>::ioctl, the root of what ioctls reach".into());
        }
        let n = self.funcs.len() + objects.len();
        let (ioctl, loader, tracer) = (
            closure(n, &rule, ioctl),
            closure(n, &all, loader),
            closure(n, &all, tracer),
        );
        Ok((0..self.funcs.len())
            .map(|f| match (ioctl[f], tracer[f], loader[f]) {
                (true, _, _) => Reach::Ioctl,
                (_, true, _) => Reach::Tracer,
                (_, _, true) => Reach::LoadUnload,
                _ => Reach::NoCaller,
            })
            .collect())
    }
}

/// Whether a section holds code only the module loader runs.
fn is_load_unload(section: &str) -> bool {
    section.starts_with(".init") || section.starts_with(".exit")
}

/// The nodes a chain of `edges` (of a graph of `n` nodes) leads to from `roots`.
fn closure(n: usize, edges: &[(usize, usize)], roots: Vec<usize>) -> Vec<bool> {
    let mut out = vec![Vec::new(); n];
    for &(a, b) in edges {
        out[a].push(b);
    }
    let mut seen = vec![false; n];
    let mut stack = roots;
    while let Some(v) = stack.pop() {
        if !std::mem::replace(&mut seen[v], true) {
            stack.extend(&out[v]);
        }
    }
    seen
}

impl Module {
    pub fn load(path: &str) -> Result<Module, String> {
        let err = |e: object::Error| format!("{path}: {e}");
        let data = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
        let file = object::File::parse(&*data).map_err(err)?;
        if file.architecture() != Architecture::X86_64 {
            return Err(format!("{path}: sites are only known on x86-64"));
        }
        let elf = Elf::read(&file).map_err(err)?;
        let (mut refs, mut sites) = elf.code_refs(&file).map_err(err)?;
        refs.extend(elf.data_refs());
        let reach = elf.reach(&refs).map_err(|e| format!("{path}: {e}"))?;
        let mut funcs = elf.funcs;
        for (f, r) in funcs.iter_mut().zip(reach) {
            f.reach = r;
        }
        sites.sort_unstable_by_key(|s| s.pc);
        for (i, s) in sites.iter().enumerate() {
            funcs[s.func].sites.push(i);
        }
        let code = elf
            .code
            .values()
            .filter_map(|&(size, base)| Some((base?, size)))
            .collect();
        Ok(Module {
            path: path.to_string(),
            funcs,
            sites,
            code,
            names: elf.names,
        })
    }

    /// Shifts the sites by the constant that makes `pcs` (kcov's trace of an
    /// ioctl) sites: 0, or the KASLR offset.
    pub fn calibrate(&mut self, pcs: &[u64]) -> Result<(), String> {
        let is_site = |pc: u64| self.sites.binary_search_by_key(&pc, |s| s.pc).is_ok();
        let mut candidates =
            std::iter::once(0).chain(self.sites.iter().map(|s| s.pc.wrapping_sub(pcs[0])));
        let Some(delta) = candidates.find(|&d| pcs.iter().all(|&pc| is_site(pc.wrapping_add(d))))
        else {
            return Err(format!(
                "{}: not the loaded module (the PCs of a traced ioctl are not its coverage sites)",
                self.path
            ));
        };
        for s in &mut self.sites {
            s.pc = s.pc.wrapping_sub(delta);
        }
        for c in &mut self.code {
            c.0 = c.0.wrapping_sub(delta);
        }
        Ok(())
    }

    /// The code sections, as kcov reports their PCs: (first, length).
    pub fn ranges(&self) -> Vec<(u64, u64)> {
        self.code.clone()
    }

    fn with_sites(&self) -> impl Iterator<Item = &Func> {
        self.funcs.iter().filter(|f| !f.sites.is_empty())
    }

    pub fn describe(&self) -> String {
        let reachable = self.with_sites().filter(|f| f.reachable()).count();
        format!(
            "{}: {} coverage sites ({} failure) in {} functions, {reachable} of them reachable from open/ioctl/close",
            self.path,
            self.sites.len(),
            self.sites.iter().filter(|s| s.failure).count(),
            self.with_sites().count(),
        )
    }

    /// Writes every site to `path`, a line each: 1 if hit (else 0), F for a
    /// failure site (else -), where it is in the file (section+offset of the
    /// return address, as objdump shows it), its function.
    pub fn write_sites(&self, cov: &Coverage, path: &str) -> std::io::Result<()> {
        let mut out = String::new();
        for s in &self.sites {
            out += &format!(
                "{} {} {}+{:#x} {}\n",
                u8::from(cov.hit(s.pc)),
                if s.failure { 'F' } else { '-' },
                self.names[&s.at.0],
                s.at.1,
                self.funcs[s.func].name
            );
        }
        std::fs::write(path, out)
    }

    /// Prints the summary line, the functions never entered, and any
    /// contradiction of the reachability rule.
    pub fn report(&self, cov: &Coverage) {
        let hit: Vec<bool> = self.sites.iter().map(|s| cov.hit(s.pc)).collect();
        let entered = |f: &Func| f.sites.iter().any(|&s| hit[s]);
        // "a/b PCs (p%), functions c/d entered (q%)" over the functions `pick` takes.
        let figures = |pick: &dyn Fn(&Func) -> bool| {
            let fs: Vec<&Func> = self.with_sites().filter(|f| pick(f)).collect();
            let sites: Vec<usize> = fs.iter().flat_map(|f| f.sites.iter().copied()).collect();
            let fs_hit = fs.iter().filter(|f| entered(f)).count();
            let pcs_hit = sites.iter().filter(|&&s| hit[s]).count();
            format!(
                "{pcs_hit}/{} PCs ({}), functions {fs_hit}/{} entered ({})",
                sites.len(),
                percent(pcs_hit, sites.len()),
                fs.len(),
                percent(fs_hit, fs.len())
            )
        };
        let checked: Vec<usize> = (0..self.sites.len())
            .filter(|&s| !self.sites[s].failure && self.funcs[self.sites[s].func].reachable())
            .collect();
        let checked_hit = checked.iter().filter(|&&s| hit[s]).count();
        println!(
            "coverage: keyvault.ko {}; reachable from open/ioctl/close: {}; reachable PCs outside failure branches (sanitizer reports, panics): {checked_hit}/{} ({})",
            figures(&|_| true),
            figures(&|f| f.reachable()),
            checked.len(),
            percent(checked_hit, checked.len())
        );
        let list = |title: &str, pick: &dyn Fn(&Func) -> bool| {
            let mut names: Vec<String> = self
                .with_sites()
                .filter(|f| pick(f))
                .map(|f| format!("{} ({} PCs)", f.name, f.sites.len()))
                .collect();
            names.sort();
            println!("coverage: {title}: {}", names.len());
            for n in names {
                println!("    {n}");
            }
        };
        list("reachable functions never entered", &|f| {
            f.reachable() && !entered(f)
        });
        for (reach, why) in [
            (
                Reach::LoadUnload,
                "module init and exit, and what only they call",
            ),
            (
                Reach::Tracer,
                "tracepoint iterators, probes and output, run only for a tracer",
            ),
            (
                Reach::NoCaller,
                "called by no code: outlined copies of generics that every caller inlined",
            ),
        ] {
            list(
                &format!("functions never entered, unreachable from open/ioctl/close: {why}"),
                &|f| f.reach == reach && !entered(f),
            );
        }
        if self.with_sites().any(|f| !f.reachable() && entered(f)) {
            list(
                "RULE FAULT: entered, but the reachability rule (kv-fuzz's sites.rs) calls them unreachable (a tracer attached?)",
                &|f| !f.reachable() && entered(f),
            );
        }
    }
}

fn percent(a: usize, b: usize) -> String {
    format!("{:.1}%", 100.0 * a as f64 / b.max(1) as f64)
}
