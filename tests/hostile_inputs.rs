//! Hostile inputs: every reader (PyTorch `.pth` and its pickle, `.npy` checkpoints, weight CSV
//! folders, pairs files, `config.json`, a checkpoint's `state.json`, the streamed tables a
//! resume cuts back) answers any file with a value or an error, never a panic or an abort, and
//! allocates at most a stated budget while it reads.
//!
//! - The hostile fixtures of `data/hostile/` (made by `data/make_hostile.py`, listed with the
//!   decision for each in `data/hostile/MANIFEST.tsv`), and a few larger ones built here, are
//!   read through the library and through the `modadd` binary (exit 2, one line on stderr).
//! - Fuzzing: every prefix of every valid seed file, and random mutations (byte flips, huge
//!   length fields and numbers, spliced headers, inserted and trailing garbage, pure garbage)
//!   from quickcheck with a fixed seed.
//!
//! # Memory budget
//! A counting global allocator measures the peak of live heap bytes on the reading thread
//! above where it started. The budget is [`BUDGET_BASE`] + [`BUDGET_PER_BYTE`] x (bytes of the
//! files read): the pickle machine's tree may take 16 MiB plus 64 bytes per pickle byte
//! (`modadd::formats::pth::pickle::tree_budget`), its stack and memo up to about as much again,
//! and the CSV readers up to 12 bytes per byte; everything else is bounded by the files' bytes.
//!
//! # Running longer
//! `MODADD_FUZZ_CASES=N` (random cases per reader, default [`DEFAULT_CASES`]) and
//! `MODADD_FUZZ_SEED=S` (default [`DEFAULT_SEED`]), e.g.
//! `MODADD_FUZZ_CASES=200000 MODADD_FUZZ_SEED=$RANDOM cargo test --release --test hostile_inputs -- --nocapture`;
//! the summary printed with `--nocapture` gives the cases run, the errors and the largest
//! allocation per reader. A failing case is printed with its seed file and mutations.

mod common;
use common::zips::{unzip, zip_stored};
use modadd::error::Error;
use modadd::formats::npy::{read_npy_vector, write_npy_matrix, write_npy_vector};
use modadd::formats::pairs::read_pairs_csv;
use modadd::formats::pth::pickle::unpickle;
use modadd::formats::pth::read_pth_tensors;
use modadd::formats::stream::{partial_path, Keep, StreamTable, TableMark};
use modadd::formats::weights::{read_weight_folder, read_weights_any, write_weight_folder};
use modadd::numerics::init::Init;
use modadd::numerics::network::{Network, Tying};
use modadd::train::checkpoint::CheckpointState;
use modadd::train::config::TrainConfig;
use quickcheck::{Arbitrary, Gen, QuickCheck, TestResult};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

// ---------------------------------------------------------------------------------------------
// Counting allocator: live and peak heap bytes per thread.
// ---------------------------------------------------------------------------------------------

struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn grew(n: usize) {
    let _ = LIVE.try_with(|l| {
        let v = l.get() + n;
        l.set(v);
        let _ = PEAK.try_with(|p| p.set(p.get().max(v)));
    });
}

fn shrank(n: usize) {
    let _ = LIVE.try_with(|l| l.set(l.get().saturating_sub(n)));
}

// SAFETY: every call is forwarded to the system allocator unchanged; the counters are plain
// thread-local cells that never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            grew(l.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(l) };
        if !p.is_null() {
            grew(l.size());
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        shrank(l.size());
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            shrank(l.size());
            grew(new);
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Runs `f` and returns its result with the peak of live heap bytes above the start.
fn peak_of<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let start = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(start));
    let r = f();
    (r, PEAK.with(Cell::get) - start)
}

// ---------------------------------------------------------------------------------------------
// The budget and the bookkeeping.
// ---------------------------------------------------------------------------------------------

/// Fixed part of the memory budget of one read (module docs).
const BUDGET_BASE: usize = 40 << 20;
/// Part of the budget per byte read (module docs).
const BUDGET_PER_BYTE: usize = 160;
/// Random cases per reader in CI: about ten seconds for all readers on two cores.
const DEFAULT_CASES: u64 = 1500;
/// The quickcheck seed of CI.
const DEFAULT_SEED: u64 = 0x6d6f_6461_6464;

fn budget(len: usize) -> usize {
    BUDGET_BASE + BUDGET_PER_BYTE * len
}

#[derive(Default, Debug)]
struct Stats {
    cases: usize,
    errors: usize,
    max_alloc: usize,
    max_alloc_len: usize,
}

fn stats() -> &'static Mutex<BTreeMap<String, Stats>> {
    static S: OnceLock<Mutex<BTreeMap<String, Stats>>> = OnceLock::new();
    S.get_or_init(Default::default)
}

/// Records one read of `len` bytes by `reader` and checks its peak against the budget.
fn record(reader: &str, len: usize, ok: bool, peak: usize) -> Result<(), String> {
    let mut s = stats().lock().unwrap();
    let e = s.entry(reader.to_string()).or_default();
    e.cases += 1;
    e.errors += usize::from(!ok);
    if peak > e.max_alloc {
        e.max_alloc = peak;
        e.max_alloc_len = len;
    }
    if peak > budget(len) {
        return Err(format!(
            "{reader}: {peak} bytes allocated reading {len} bytes, over the budget {}",
            budget(len)
        ));
    }
    Ok(())
}

fn print_stats(title: &str) {
    let s = stats().lock().unwrap();
    eprintln!("{title}");
    for (k, v) in s.iter() {
        eprintln!(
            "  {k:<14} {:>6} cases, {:>6} errors, largest allocation {:>10} bytes (reading {} bytes)",
            v.cases, v.errors, v.max_alloc, v.max_alloc_len
        );
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data").join(rel)
}

// ---------------------------------------------------------------------------------------------
// The readers under test, each with valid seed files.
// ---------------------------------------------------------------------------------------------

/// A reader and the valid files it is fuzzed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reader {
    /// A `.pth` file: the network (`read_weights_any`) and every tensor.
    Pth,
    /// A `.pth` whose `data.pkl` is mutated and stored again (past the zip's CRC).
    PthPickle,
    /// A pickle alone.
    Pickle,
    /// `W_in.npy` of a checkpoint folder, and the same bytes as a 1-d moment.
    Npy,
    /// `W_in.csv` of a weight folder.
    Csv,
    /// A pairs file at p = 5.
    Pairs,
    /// `config.json`, read and validated.
    Config,
    /// A checkpoint's `state.json`.
    State,
    /// A streamed table cut back on resume.
    Table,
}

const READERS: [Reader; 9] = [
    Reader::Pth,
    Reader::PthPickle,
    Reader::Pickle,
    Reader::Npy,
    Reader::Csv,
    Reader::Pairs,
    Reader::Config,
    Reader::State,
    Reader::Table,
];

const PTH_SEEDS: [&str; 5] = [
    "pth/bare.pth",
    "pth/nested.pth",
    "pth/strided.pth",
    "pth/untied_f64.pth",
    "pth/params.pth",
];

fn small_net() -> Network<f64> {
    Network::init(5, 3, Init::Random { scale: 0.5 }, Tying::Tied, 7).unwrap()
}

fn pickle_of(pth: &[u8]) -> Vec<u8> {
    unzip(pth)
        .into_iter()
        .find(|(n, _)| n.ends_with("data.pkl"))
        .unwrap()
        .1
}

fn read_file(rel: &str) -> Vec<u8> {
    std::fs::read(data(rel)).unwrap()
}

/// Valid files of each reader (each must read without error: checked by a test).
fn seeds(r: Reader) -> &'static [Vec<u8>] {
    static S: OnceLock<BTreeMap<String, Vec<Vec<u8>>>> = OnceLock::new();
    let all = S.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        let tmp = |name: &str| d.path().join(name);
        let net = small_net();
        let pth: Vec<Vec<u8>> = PTH_SEEDS.iter().map(|f| read_file(f)).collect();
        let mut m = BTreeMap::new();
        m.insert(format!("{:?}", Reader::Pth), pth.clone());
        m.insert(format!("{:?}", Reader::PthPickle), vec![pickle_of(&pth[0])]);
        let mut pk: Vec<Vec<u8>> = pth.iter().map(|b| pickle_of(b)).collect();
        pk.push(read_file("pth/plain_p2.pkl"));
        pk.push(read_file("pth/plain_p4.pkl"));
        m.insert(format!("{:?}", Reader::Pickle), pk);
        write_npy_matrix(&tmp("a.npy"), &net.w_in).unwrap();
        write_npy_matrix(&tmp("b.npy"), &net.w_in.map(|x| x as f32)).unwrap();
        write_npy_vector(&tmp("c.npy"), net.w_in.as_slice()).unwrap();
        m.insert(
            format!("{:?}", Reader::Npy),
            ["a.npy", "b.npy", "c.npy"]
                .iter()
                .map(|f| std::fs::read(tmp(f)).unwrap())
                .collect(),
        );
        write_weight_folder(&tmp("w"), &net).unwrap();
        m.insert(
            format!("{:?}", Reader::Csv),
            vec![std::fs::read(tmp("w/W_in.csv")).unwrap()],
        );
        let mut pairs = String::from("x,y\n");
        for i in 0..20 {
            pairs.push_str(&format!("{},{}\n", i / 5, (3 * i) % 5));
        }
        m.insert(
            format!("{:?}", Reader::Pairs),
            vec![pairs.into_bytes(), b"x,y,label\n1,2,3\n4,4,3\n".to_vec()],
        );
        let mut c = TrainConfig::preset("grokking", 7).unwrap();
        c.record.grid_epochs = vec![0, 10, 20];
        c.write(&tmp("config.json")).unwrap();
        m.insert(
            format!("{:?}", Reader::Config),
            vec![std::fs::read(tmp("config.json")).unwrap()],
        );
        let state = CheckpointState {
            epoch: 30,
            updates: 31,
            precision: c.precision,
            optimizer: "adamw".into(),
            adam_t: 31,
            files: Some(vec![]),
            tables: Some(vec![TableMark {
                file: "training_log.csv".into(),
                bytes: 1234,
                rows: 31,
            }]),
        };
        m.insert(
            format!("{:?}", Reader::State),
            vec![serde_json::to_string_pretty(&state).unwrap().into_bytes()],
        );
        let mut table = String::from("epoch,a,b\n");
        for e in 0..12 {
            table.push_str(&format!("{e},{},{}\n", e as f64 / 7.0, e * e));
        }
        m.insert(format!("{:?}", Reader::Table), vec![table.into_bytes()]);
        m
    });
    &all[&format!("{r:?}")]
}

/// A scratch folder per reader and thread, under cargo's temporary folder for tests, holding
/// the valid companion files (`W_out.csv`, `W_out.npy`) written once.
fn scratch(r: Reader) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("hostile_inputs")
        .join(format!("{r:?}-{:?}", std::thread::current().id()));
    if !d.is_dir() {
        std::fs::create_dir_all(d.join("ck")).unwrap();
        let net = small_net();
        write_npy_matrix(&d.join("ck/W_out.npy"), &net.w_out).unwrap();
        write_weight_folder(&d.join("w"), &net).unwrap();
    }
    d
}

/// The mark of the first three rows of the table seed.
fn table_mark() -> &'static TableMark {
    static M: OnceLock<TableMark> = OnceLock::new();
    M.get_or_init(|| {
        let s = &seeds(Reader::Table)[0];
        let end = s
            .iter()
            .enumerate()
            .filter(|(_, &b)| b == b'\n')
            .nth(3)
            .unwrap()
            .0;
        TableMark {
            file: "t.csv".into(),
            bytes: end as u64 + 1,
            rows: 3,
        }
    })
}

/// Reads `bytes` with reader `r` (writing what it needs to files first, outside the
/// measurement); returns whether it was accepted, and checks the budget.
///
/// (Over 80 lines: one `match` arm per reader, each writing its file and measuring its peak; a
/// dispatch, as the pickle interpreter's is.)
fn run_reader(r: Reader, bytes: &[u8]) -> Result<bool, String> {
    let dir = scratch(r);
    let write = |name: &str, b: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, b).unwrap();
        p
    };
    let name = format!("{r:?}");
    let check = |res: Result<(), Error>, len: usize, peak: usize| {
        record(&name, len, res.is_ok(), peak)?;
        Ok::<bool, String>(res.is_ok())
    };
    match r {
        Reader::Pth | Reader::PthPickle => {
            let file = if r == Reader::Pth {
                bytes.to_vec()
            } else {
                let mut e = unzip(seeds(Reader::Pth)[0].as_slice());
                for (n, b) in e.iter_mut() {
                    if n.ends_with("data.pkl") {
                        *b = bytes.to_vec();
                    }
                }
                zip_stored(&e)
            };
            let p = write("x.pth", &file);
            let (a, peak) = peak_of(|| read_weights_any(&p).map(|_| ()));
            let ok = check(a, file.len(), peak)?;
            let (b, peak) = peak_of(|| read_pth_tensors(&p).map(|_| ()));
            check(b, file.len(), peak)?;
            Ok(ok)
        }
        Reader::Pickle => {
            let (a, peak) = peak_of(|| unpickle(bytes).map(|_| ()));
            record(&name, bytes.len(), a.is_ok(), peak)?;
            Ok(a.is_ok())
        }
        Reader::Npy => {
            let folder = dir.join("ck");
            std::fs::write(folder.join("W_in.npy"), bytes).unwrap();
            let len =
                bytes.len() + std::fs::metadata(folder.join("W_out.npy")).unwrap().len() as usize;
            let (a, peak) = peak_of(|| read_weights_any(&folder).map(|_| ()));
            let ok = check(a, len, peak)?;
            let (b, peak) =
                peak_of(|| read_npy_vector::<f64>(&folder.join("W_in.npy")).map(|_| ()));
            // A matrix reads as weights, a vector as a moment: either counts as read.
            Ok(check(b, bytes.len(), peak)? || ok)
        }
        Reader::Csv => {
            let folder = dir.join("w");
            std::fs::write(folder.join("W_in.csv"), bytes).unwrap();
            let len =
                bytes.len() + std::fs::metadata(folder.join("W_out.csv")).unwrap().len() as usize;
            let (a, peak) = peak_of(|| read_weight_folder(&folder).map(|_| ()));
            check(a, len, peak)
        }
        Reader::Pairs => {
            let p = write("pairs.csv", bytes);
            let (a, peak) = peak_of(|| read_pairs_csv(&p, 5).map(|_| ()));
            check(a, bytes.len(), peak)
        }
        Reader::Config => {
            let p = write("config.json", bytes);
            let (a, peak) = peak_of(|| TrainConfig::read(&p).and_then(|c| c.validate()));
            check(a, bytes.len(), peak)
        }
        Reader::State => {
            write("state.json", bytes);
            let (a, peak) = peak_of(|| CheckpointState::read(&dir).map(|_| ()));
            check(a, bytes.len(), peak)
        }
        Reader::Table => {
            let path = dir.join("t.csv");
            let mut ok = true;
            for keep in [Keep::UpToEpoch(6), Keep::Mark(table_mark())] {
                std::fs::write(partial_path(&path), bytes).unwrap();
                let (a, peak) =
                    peak_of(|| StreamTable::create(&path, &["epoch", "a", "b"], keep).map(|_| ()));
                ok &= check(a, bytes.len(), peak)?;
            }
            Ok(ok)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Mutations.
// ---------------------------------------------------------------------------------------------

/// Little-endian values planted in length and size fields.
const HUGE: [u64; 9] = [
    0xFFFF,
    0xFFFF_FFF0,
    0xFFFF_FFFF,
    1 << 31,
    1 << 32,
    1 << 40,
    1 << 62,
    1 << 63,
    u64::MAX,
];

/// Numbers planted in text formats.
const HUGE_TEXT: [&str; 10] = [
    "99999999999999999999999999",
    "18446744073709551615",
    "1e999",
    "-1",
    "NaN",
    "4294967296",
    "2049",
    "1048577",
    "340282366920938463463374607431768211456",
    "\"\\ud800\"",
];

#[derive(Clone, Debug)]
enum Op {
    /// Set the byte at a position.
    Flip { at: usize, byte: u8 },
    /// Write a huge little-endian value of 2, 4 or 8 bytes over a position.
    Huge { at: usize, width: usize, value: u64 },
    /// Insert a huge number as text at a position.
    HugeText { at: usize, text: &'static str },
    /// The first `cut_a` bytes of this file, then another seed from `cut_b` on.
    Splice {
        other: usize,
        cut_a: usize,
        cut_b: usize,
    },
    /// Cut the file at a position.
    Truncate { at: usize },
    /// Insert bytes at a position (at the end: trailing garbage).
    Insert { at: usize, bytes: Vec<u8> },
    /// Replace the whole file with these bytes.
    Garbage { bytes: Vec<u8> },
}

#[derive(Clone, Debug)]
struct Mutation {
    seed: usize,
    ops: Vec<Op>,
}

impl Arbitrary for Op {
    fn arbitrary(g: &mut Gen) -> Self {
        let at = usize::arbitrary(g);
        match u8::arbitrary(g) % 10 {
            0..=2 => Op::Flip {
                at,
                byte: u8::arbitrary(g),
            },
            3 | 4 => Op::Huge {
                at,
                width: *g.choose(&[2, 4, 8]).unwrap(),
                value: *g.choose(&HUGE).unwrap(),
            },
            5 => Op::HugeText {
                at,
                text: g.choose(&HUGE_TEXT).unwrap(),
            },
            6 => Op::Splice {
                other: usize::arbitrary(g),
                cut_a: at,
                cut_b: usize::arbitrary(g),
            },
            7 => Op::Truncate { at },
            8 => Op::Insert {
                at,
                bytes: Vec::arbitrary(g),
            },
            _ => Op::Garbage {
                bytes: Vec::arbitrary(g),
            },
        }
    }
}

impl Arbitrary for Mutation {
    fn arbitrary(g: &mut Gen) -> Self {
        let n = 1 + usize::arbitrary(g) % 3;
        Mutation {
            seed: usize::arbitrary(g),
            ops: (0..n).map(|_| Op::arbitrary(g)).collect(),
        }
    }
}

impl Mutation {
    fn apply(&self, seeds: &[Vec<u8>]) -> Vec<u8> {
        let mut b = seeds[self.seed % seeds.len()].clone();
        for op in &self.ops {
            let pos = |at: usize, len: usize| at % (len + 1);
            match op {
                Op::Flip { at, byte } => {
                    if !b.is_empty() {
                        let i = at % b.len();
                        b[i] = *byte;
                    }
                }
                Op::Huge { at, width, value } => {
                    let i = pos(*at, b.len());
                    let v = value.to_le_bytes();
                    for (k, byte) in v[..*width].iter().enumerate() {
                        if i + k < b.len() {
                            b[i + k] = *byte;
                        }
                    }
                }
                Op::HugeText { at, text } => {
                    let i = pos(*at, b.len());
                    b.splice(i..i, text.bytes());
                }
                Op::Splice {
                    other,
                    cut_a,
                    cut_b,
                } => {
                    let o = &seeds[other % seeds.len()];
                    b.truncate(pos(*cut_a, b.len()));
                    b.extend_from_slice(&o[pos(*cut_b, o.len())..]);
                }
                Op::Truncate { at } => b.truncate(pos(*at, b.len())),
                Op::Insert { at, bytes } => {
                    let i = pos(*at, b.len());
                    b.splice(i..i, bytes.iter().copied());
                }
                Op::Garbage { bytes } => b = bytes.clone(),
            }
        }
        b
    }
}

/// The property for reader `R` (an index into [`READERS`]): reading a mutated seed is Ok or
/// Err within the budget, never a panic (quickcheck reports a panic as a failure with its
/// input).
fn prop<const R: usize>(m: Mutation) -> TestResult {
    let r = READERS[R];
    let bytes = m.apply(seeds(r));
    match run_reader(r, &bytes) {
        Ok(_) => TestResult::passed(),
        Err(e) => TestResult::error(format!("{e}: {m:?}")),
    }
}

fn fuzz<const R: usize>() {
    let cases = env_u64("MODADD_FUZZ_CASES", DEFAULT_CASES);
    let seed = env_u64("MODADD_FUZZ_SEED", DEFAULT_SEED) ^ R as u64;
    QuickCheck::new()
        .rng(Gen::from_size_and_seed(300, seed))
        .tests(cases)
        .max_tests(cases)
        .quickcheck(prop::<R> as fn(Mutation) -> TestResult);
}

// ---------------------------------------------------------------------------------------------
// Tests.
// ---------------------------------------------------------------------------------------------

#[test]
fn every_seed_is_valid() {
    for r in READERS {
        for (i, s) in seeds(r).iter().enumerate() {
            assert_eq!(run_reader(r, s), Ok(true), "{r:?} seed {i} must read");
        }
    }
}

/// Truncation at every prefix of every seed: each is read or refused within the budget.
#[test]
fn every_prefix_of_every_seed_is_read_or_refused() {
    let mut n = 0;
    for r in READERS {
        for s in seeds(r) {
            for len in 0..s.len() {
                if let Err(e) = run_reader(r, &s[..len]) {
                    panic!("{r:?}, prefix of {len} bytes: {e}");
                }
                n += 1;
            }
        }
    }
    eprintln!("every prefix: {n} cases");
}

#[test]
fn fuzz_pth() {
    fuzz::<0>();
}
#[test]
fn fuzz_pth_pickle() {
    fuzz::<1>();
}
#[test]
fn fuzz_pickle() {
    fuzz::<2>();
}
#[test]
fn fuzz_npy() {
    fuzz::<3>();
}
#[test]
fn fuzz_csv() {
    fuzz::<4>();
}
#[test]
fn fuzz_pairs() {
    fuzz::<5>();
}
#[test]
fn fuzz_config() {
    fuzz::<6>();
}
#[test]
fn fuzz_state() {
    fuzz::<7>();
}
#[test]
fn fuzz_table() {
    fuzz::<8>();
}

/// The fixtures of `data/hostile/` (one per row of its MANIFEST.tsv: file, kind, the study's
/// expectation, our decision, what it is).
fn hostile_cases() -> Vec<(String, String, bool, String)> {
    let text = std::fs::read_to_string(data("hostile/MANIFEST.tsv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let name = f[0].trim_end_matches('/').to_string();
            (name, f[1].to_string(), f[3] == "accept", f[4].to_string())
        })
        .collect()
}

/// Reads a hostile fixture through the library; returns whether it was accepted and the
/// peak allocation.
fn read_hostile(name: &str, kind: &str) -> (Result<(), Error>, usize, usize) {
    let path = data("hostile").join(name);
    let len: usize = if path.is_dir() {
        std::fs::read_dir(&path)
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len() as usize)
            .sum()
    } else {
        std::fs::metadata(&path).unwrap().len() as usize
    };
    let (r, peak) = match kind {
        "pairs" => peak_of(|| read_pairs_csv(&path, 5).map(|_| ())),
        _ => peak_of(|| read_weights_any(&path).map(|_| ())),
    };
    (r, peak, len)
}

/// Larger hostile inputs built here rather than checked in: (name, bytes, reader).
fn built_hostiles() -> Vec<(&'static str, Vec<u8>, Reader)> {
    let mut v = Vec::new();
    // 400 000 MARKs then 400 000 TUPLEs: nesting through marks.
    let mut b = b"\x80\x02".to_vec();
    b.extend(std::iter::repeat_n(b'(', 400_000));
    b.extend(std::iter::repeat_n(b't', 400_000));
    b.push(b'.');
    v.push(("deep_marks.pkl", b, Reader::Pickle));
    // 100 000 nested lists.
    let mut b = b"\x80\x02".to_vec();
    for _ in 0..100_000 {
        b.extend_from_slice(b"]");
    }
    for _ in 0..99_999 {
        b.extend_from_slice(b"a");
    }
    b.push(b'.');
    v.push(("deep_lists.pkl", b, Reader::Pickle));
    // A 100 KB string memoised once, fetched 50 000 times into a list (5 GB if copied).
    let mut b = b"\x80\x02]q\x00(X".to_vec();
    b.extend_from_slice(&100_000u32.to_le_bytes());
    b.extend(std::iter::repeat_n(b'a', 100_000));
    b.extend_from_slice(b"q\x01");
    for _ in 0..50_000 {
        b.extend_from_slice(b"h\x01");
    }
    b.extend_from_slice(b"e.");
    v.push(("memo_bytes.pkl", b, Reader::Pickle));
    // Four levels of 1000 references to the previous list: 10^12 values from 8 KB.
    let mut b = b"\x80\x02K\x00q\x000".to_vec();
    for level in 0..4u8 {
        b.extend_from_slice(b"](");
        for _ in 0..1000 {
            b.extend_from_slice(&[b'h', level]);
        }
        b.extend_from_slice(&[b'e', b'q', level + 1]);
        if level < 3 {
            b.push(b'0');
        }
    }
    b.push(b'.');
    v.push(("memo_values.pkl", b, Reader::Pickle));
    // A W_in.csv row of 500 000 empty fields, and one of 399 999 numbers.
    v.push(("csv_one_row_million", vec![b','; 499_999], Reader::Csv));
    let mut row = "0.5,".repeat(399_998);
    row.push_str("0.5\n");
    v.push(("csv_wide", row.into_bytes(), Reader::Csv));
    // 200 000 copies of one pair.
    let mut b = b"x,y\n".to_vec();
    for _ in 0..200_000 {
        b.extend_from_slice(b"1,2\n");
    }
    v.push(("pairs_many.csv", b, Reader::Pairs));
    v
}

/// Every hostile fixture gets the decision of the manifest, within the budget; the largest
/// allocation seen is printed (run with --nocapture).
#[test]
fn hostile_fixtures_are_refused_within_the_budget() {
    let mut worst = (0usize, String::new(), 0usize);
    for (name, kind, accept, what) in hostile_cases() {
        let (r, peak, len) = read_hostile(&name, &kind);
        assert_eq!(
            r.is_ok(),
            accept,
            "{name} ({what}): {:?}",
            r.as_ref().err().map(ToString::to_string)
        );
        assert!(peak <= budget(len), "{name}: {peak} bytes for {len}");
        if peak > worst.0 {
            worst = (peak, name.clone(), len);
        }
        if let Err(e) = r {
            assert!(e.is_user_error(), "{name}: {e}");
            let line = e.to_string();
            assert!(!line.contains('\n'), "{name}: one line: {line}");
        }
    }
    for (name, bytes, reader) in built_hostiles() {
        let ok = run_reader(reader, &bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!ok, "{name} must be refused");
    }
    let s = stats().lock().unwrap();
    let built = s
        .values()
        .map(|v| (v.max_alloc, v.max_alloc_len))
        .max()
        .unwrap();
    eprintln!(
        "hostile fixtures: largest allocation {} bytes ({} of {} bytes); built hostiles: {} bytes \
         (reading {} bytes); budget {} MiB + {} bytes per byte read",
        worst.0,
        worst.1,
        worst.2,
        built.0,
        built.1,
        BUDGET_BASE >> 20,
        BUDGET_PER_BYTE
    );
}

/// Through the binary: each refused fixture is one line on stderr and exit status 2 (no panic,
/// no abort, no backtrace); each accepted one analyses.
#[test]
fn the_binary_answers_a_hostile_file_with_one_line_and_exit_2() {
    let d = tempfile::tempdir().unwrap();
    let good = data("pth/bare.pth");
    for (name, kind, accept, _) in hostile_cases() {
        let path = data("hostile").join(&name);
        let out = d.path().join(&name);
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_modadd"));
        if kind == "pairs" {
            c.arg("eval")
                .arg("--weights")
                .arg(&good)
                .arg("--pairs")
                .arg(&path);
        } else {
            c.arg("analyze")
                .arg("--weights")
                .arg(&path)
                .arg("--out")
                .arg(&out);
        }
        let o = c.args(["--activation", "relu"]).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        if accept {
            assert!(o.status.success(), "{name}: {err}");
        } else {
            assert_eq!(o.status.code(), Some(2), "{name}: {err}");
            assert_eq!(err.lines().count(), 1, "{name}: {err}");
            assert!(
                err.starts_with("error: ") && !err.contains("panicked"),
                "{name}: {err}"
            );
        }
    }
}

#[test]
fn zzz_summary() {
    // Runs last in name order when tests run one at a time; with parallel threads it prints
    // whatever has been recorded so far.
    print_stats("hostile_inputs so far:");
}

/// The stated limits, through the binary: a p the analysis cannot hold, a modulus range
/// beyond the largest p, a `config.json` declaring a huge run, each refused at once with one
/// line naming the value and the limit, exit 2, and nothing written.
#[test]
fn sizes_beyond_the_limits_are_refused_before_any_work() {
    let d = tempfile::tempdir().unwrap();
    let bin = || std::process::Command::new(env!("CARGO_BIN_EXE_modadd"));
    let refused = |c: &mut std::process::Command, want: &[&str]| {
        let o = c.output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        for w in want {
            assert!(err.contains(w), "{w} in {err}");
        }
    };
    // Closed-form weights at p = 253 are fine to write; their analysis is not.
    let cf = d.path().join("cf");
    let o = bin()
        .args([
            "closed-form",
            "--p",
            "253",
            "--width",
            "3",
            "--task",
            "add",
            "--out",
        ])
        .arg(&cf)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let an = d.path().join("an");
    refused(
        bin()
            .args(["analyze", "--activation", "quad", "--weights"])
            .arg(cf.join("weights"))
            .arg("--out")
            .arg(&an),
        &["p for the analysis = 253", "at most 251", "GiB"],
    );
    assert!(!an.exists());
    let run = d.path().join("run");
    refused(
        bin()
            .args(["train", "--p", "253", "--width", "8", "--out"])
            .arg(&run),
        &["253", "251"],
    );
    assert!(!run.exists(), "nothing written");
    refused(
        bin()
            .args(["reproduce", "--p-range", "3..99999999999999", "--out"])
            .arg(&run),
        &["99999999999999", "251"],
    );
    refused(
        bin()
            .args(["train", "--p", "4097", "--width", "8", "--out"])
            .arg(&run),
        &["modulus p = 4097", "2047"],
    );
    // A run folder whose config.json declares p = 2047 and a width of 2^40: refused by
    // `--resume` before anything of that size exists.
    std::fs::create_dir_all(&run).unwrap();
    let mut c = TrainConfig::preset("standard", 7).unwrap();
    c.p = 2047;
    c.width = 1 << 40;
    let json = serde_json::to_string_pretty(&c).unwrap();
    std::fs::write(run.join("config.json"), json).unwrap();
    refused(
        bin().args(["train", "--resume", "--out"]).arg(&run),
        &["width M = 1099511627776", "1048576"],
    );
}
