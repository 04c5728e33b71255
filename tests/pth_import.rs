//! Claim: PyTorch checkpoints in the reference's layouts load exactly, and malformed ones fail
//! with a typed error that says what is wrong.
//!
//! Fixtures: data/pth/*.pth and *.pkl, written by data/make_pth_fixtures.py (torch + numpy),
//! which also wrote data/pth/expected.csv with every weight value (shortest round-trip repr of
//! the stored float). Values are compared for exact equality: float32 -> f64 is exact, and so is
//! parsing a shortest round-trip decimal.

mod common;
use common::zips::{unzip, zip_stored};
use modadd::error::{Error, PthError};
use modadd::formats::npy::write_npy_matrix;
use modadd::formats::pth::pickle::{unpickle, Value};
use modadd::formats::pth::{read_pth_network, read_pth_tensors, DType, PthArchive};
use modadd::formats::weights::{read_weights_any, write_weight_folder};
use nalgebra::DMatrix;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const P: usize = 5;
const M: usize = 3;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/pth")
        .join(name)
}

/// (fixture, tensor) -> entries (row, col, value).
type Cells = HashMap<(String, String), Vec<(usize, usize, f64)>>;

/// expected.csv as (fixture, tensor) -> matrix.
fn expected() -> HashMap<(String, String), DMatrix<f64>> {
    let mut r = csv::Reader::from_path(fixture("expected.csv")).unwrap();
    let mut cells: Cells = HashMap::new();
    for rec in r.records() {
        let rec = rec.unwrap();
        let key = (rec[0].to_string(), rec[1].to_string());
        let v = (
            rec[2].parse().unwrap(),
            rec[3].parse().unwrap(),
            rec[4].parse().unwrap(),
        );
        cells.entry(key).or_default().push(v);
    }
    cells
        .into_iter()
        .map(|(k, v)| {
            let rows = v.iter().map(|c| c.0).max().unwrap() + 1;
            let cols = v.iter().map(|c| c.1).max().unwrap() + 1;
            let mut m = DMatrix::from_element(rows, cols, f64::NAN);
            for (i, j, x) in v {
                m[(i, j)] = x;
            }
            (k, m)
        })
        .collect()
}

fn assert_exact(
    fixture: &str,
    name: &str,
    got: &DMatrix<f64>,
    exp: &HashMap<(String, String), DMatrix<f64>>,
) {
    let want = &exp[&(fixture.to_string(), name.to_string())];
    assert_eq!(got.shape(), want.shape(), "{fixture} {name}");
    for i in 0..want.nrows() {
        for j in 0..want.ncols() {
            assert_eq!(
                got[(i, j)].to_bits(),
                want[(i, j)].to_bits(),
                "{fixture} {name}[{i},{j}]: {} vs {}",
                got[(i, j)],
                want[(i, j)]
            );
        }
    }
}

#[test]
fn reference_layouts_load_exactly() {
    let exp = expected();
    for f in ["bare", "nested", "strided", "untied_f64", "params"] {
        let net = read_pth_network(&fixture(&format!("{f}.pth"))).unwrap();
        assert_eq!((net.p, net.width()), (P, M), "{f}");
        assert_exact(f, "W_in", &net.w_in, &exp);
        assert_exact(f, "W_out", &net.w_out, &exp);
        match (f, &net.w_in_y) {
            ("untied_f64", Some(wy)) => assert_exact(f, "W_in_y", wy, &exp),
            ("untied_f64", None) => panic!("untied_f64: W_in_y not read"),
            (_, Some(_)) => panic!("{f}: W_in_y where there is none"),
            (_, None) => {}
        }
        // The generic entry point gives the same network.
        let any = read_weights_any(&fixture(&format!("{f}.pth"))).unwrap();
        assert_eq!(any.w_in, net.w_in);
        assert_eq!(any.w_out, net.w_out);
    }
}

#[test]
fn fixtures_exercise_offsets_strides_dtypes_and_nesting() {
    // Guard that the fixtures really hold the layouts the test above claims to cover.
    let a = PthArchive::open(&fixture("strided.pth")).unwrap();
    let sd = a.state_dict().unwrap();
    let names: Vec<&str> = sd.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["W_in", "W_out"]);
    assert_eq!((sd[0].1.offset, sd[0].1.stride.clone()), (P, vec![P, 1]));
    assert_eq!((sd[1].1.offset, sd[1].1.stride.clone()), (0, vec![1, P]));
    assert_eq!(sd[1].1.shape, vec![P, M]);

    let a = PthArchive::open(&fixture("untied_f64.pth")).unwrap();
    assert!(a
        .state_dict()
        .unwrap()
        .iter()
        .all(|(_, t)| t.dtype == DType::F64));

    // nested: the state dict under "model" is chosen, not the optimiser's tensors; the rest of
    // the pickle (lists, ints, a config dict) is read as Python wrote it.
    let a = PthArchive::open(&fixture("nested.pth")).unwrap();
    let names: Vec<String> = a
        .state_dict()
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["mlp.W_in", "mlp.W_out", "mlp.basis"]);
    let root = a.root();
    assert_eq!(root.get("epoch"), Some(&Value::Int(2)));
    assert_eq!(
        root.get("test_accs"),
        Some(&Value::List(vec![Value::Float(0.2), Value::Float(0.4)]))
    );
    assert_eq!(
        root.get("config").and_then(|c| c.get("act_type")),
        Some(&Value::Str("ReLU".into()))
    );
    let Some(Value::List(losses)) = root.get("train_losses") else {
        panic!("train_losses is not a list")
    };
    assert_eq!(&losses[..2], &[Value::Float(0.25), Value::Float(0.125)]);
    assert!(root.get("optimizer").and_then(|o| o.get("state")).is_some());

    // Every state-dict tensor reads; the basis buffer is p x p.
    let all = read_pth_tensors(&fixture("bare.pth")).unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[2].0, "mlp.basis");
    assert_eq!(all[2].1.shape, vec![P, P]);
    assert_eq!(all[2].1.dtype, DType::F32);
}

fn pth_error(path: &Path) -> PthError {
    match read_pth_network(path) {
        Err(Error::Pth { path: p, source }) => {
            assert_eq!(p, path);
            source
        }
        Err(e) => panic!("{}: expected a .pth error, got {e}", path.display()),
        Ok(_) => panic!("{}: loaded", path.display()),
    }
}

/// (Over 80 lines: one case per `PthError` variant, each with its own fixture and the fields it
/// asserts; a table of cases would hide which field each one checks.)
#[test]
fn malformed_checkpoints_give_typed_errors() {
    let dir = tempfile::tempdir().unwrap();

    // Truncated: the first half of a good file (its zip directory is lost).
    let bytes = std::fs::read(fixture("bare.pth")).unwrap();
    let cut = dir.path().join("cut.pth");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    assert!(matches!(pth_error(&cut), PthError::CorruptZip { .. }));

    // Not a zip: a CSV file, an empty file, and torch.save's legacy format.
    let csv = dir.path().join("w.pth");
    std::fs::write(&csv, "1,2,3\n").unwrap();
    assert!(matches!(pth_error(&csv), PthError::NotZip { .. }));
    let empty = dir.path().join("empty.pth");
    std::fs::write(&empty, "").unwrap();
    assert!(
        matches!(pth_error(&empty), PthError::NotZip { ref reason } if reason.contains("empty"))
    );
    match pth_error(&fixture("legacy.pth")) {
        PthError::NotZip { reason } => assert!(reason.contains("legacy"), "{reason}"),
        e => panic!("legacy: {e}"),
    }

    // Missing key: the error lists what the file holds.
    match pth_error(&fixture("missing_key.pth")) {
        PthError::MissingTensor { tried, found } => {
            assert_eq!(tried, ["mlp.W_out", "W_out"]);
            assert_eq!(found, ["mlp.W_in", "mlp.b_out"]);
        }
        e => panic!("missing_key: {e}"),
    }
    let msg = read_pth_network(&fixture("missing_key.pth"))
        .err()
        .unwrap()
        .to_string();
    assert!(
        msg.contains("missing_key.pth") && msg.contains("mlp.b_out"),
        "{msg}"
    );

    match pth_error(&fixture("bad_shape.pth")) {
        PthError::WrongShape { name, found, .. } => {
            assert_eq!((name.as_str(), found), ("W_out", vec![P, M + 1]))
        }
        e => panic!("bad_shape: {e}"),
    }
    match pth_error(&fixture("half.pth")) {
        PthError::UnsupportedDtype { name, dtype } => {
            assert_eq!(name, "mlp.W_in");
            assert!(dtype.contains("HalfStorage"), "{dtype}");
        }
        e => panic!("half: {e}"),
    }

    // A valid zip without data.pkl, and one whose storage is shorter than its tensor.
    let entries = read_zip_entries(&fixture("bare.pth"));
    let no_pkl = dir.path().join("no_pkl.pth");
    write_zip(
        &no_pkl,
        entries.iter().filter(|(n, _)| !n.ends_with("data.pkl")),
    );
    match pth_error(&no_pkl) {
        PthError::MissingPickle { entries } => {
            assert!(entries.contains(&"bare/data/0".to_string()))
        }
        e => panic!("no_pkl: {e}"),
    }
    let short = dir.path().join("short.pth");
    write_zip(
        &short,
        entries
            .iter()
            .map(|(n, b)| {
                if n == "bare/data/0" {
                    (n.clone(), b[..b.len() - 4].to_vec())
                } else {
                    (n.clone(), b.clone())
                }
            })
            .collect::<Vec<_>>()
            .iter(),
    );
    match pth_error(&short) {
        PthError::StorageTooShort {
            name,
            needed,
            found,
            ..
        } => {
            assert_eq!(name, "mlp.W_in");
            assert_eq!((needed, found), (4 * M * P, 4 * M * P - 4));
        }
        e => panic!("short: {e}"),
    }
}

#[test]
fn big_endian_storages_read_the_same_values() {
    // torch writes `byteorder` = big on big-endian machines, storages in that order. Rewrite
    // bare.pth so: every 4-byte float32 of each storage reversed, byteorder "big".
    let dir = tempfile::tempdir().unwrap();
    let entries: Vec<(String, Vec<u8>)> = read_zip_entries(&fixture("bare.pth"))
        .into_iter()
        .map(|(n, b)| {
            if n.starts_with("bare/data/") {
                let swapped = b.chunks(4).flat_map(|w| w.iter().rev().copied()).collect();
                (n, swapped)
            } else if n == "bare/byteorder" {
                (n, b"big".to_vec())
            } else {
                (n, b)
            }
        })
        .collect();
    let be = dir.path().join("big.pth");
    write_zip(&be, entries.iter());
    let net = read_pth_network(&be).unwrap();
    let exp = expected();
    assert_exact("bare", "W_in", &net.w_in, &exp);
    assert_exact("bare", "W_out", &net.w_out, &exp);
}

fn read_zip_entries(path: &Path) -> Vec<(String, Vec<u8>)> {
    unzip(&std::fs::read(path).unwrap())
}

fn write_zip<'a>(path: &Path, entries: impl Iterator<Item = &'a (String, Vec<u8>)>) {
    std::fs::write(path, zip_stored(entries)).unwrap();
}

/// The object data/make_pth_fixtures.py pickles as plain_p2.pkl and plain_p4.pkl.
fn plain_object() -> Value {
    let s = |x: &str| Value::Str(x.into());
    let i = Value::Int;
    let f = Value::Float;
    Value::Dict(vec![
        (
            s("ints"),
            Value::List(
                [
                    0,
                    1,
                    -1,
                    255,
                    256,
                    65535,
                    65536,
                    -(1 << 31),
                    1 << 31,
                    i64::MAX,
                    i64::MIN,
                ]
                .into_iter()
                .map(i)
                .collect(),
            ),
        ),
        (
            s("floats"),
            Value::List(vec![f(0.1), f(-2.5e-300), f(1e300), f(-0.0)]),
        ),
        (s("text"), s("theta \u{3b8}, \u{fc}")),
        (
            s("tuples"),
            Value::List(vec![
                Value::Tuple(vec![]),
                Value::Tuple(vec![i(1)]),
                Value::Tuple(vec![i(1), i(2)]),
                Value::Tuple(vec![i(1), i(2), i(3)]),
                Value::Tuple(vec![i(1), i(2), i(3), i(4)]),
            ]),
        ),
        (
            s("consts"),
            Value::List(vec![Value::None, Value::Bool(true), Value::Bool(false)]),
        ),
        (
            s("shared"),
            Value::List(vec![Value::List(vec![i(7)]), Value::List(vec![i(7)])]),
        ),
        (
            s("ordered"),
            Value::Dict(vec![(s("b"), i(2)), (s("a"), i(1))]),
        ),
    ])
}

#[test]
fn pickle_reader_matches_python_for_protocols_2_and_4() {
    for proto in [2, 4] {
        let bytes = std::fs::read(fixture(&format!("plain_p{proto}.pkl"))).unwrap();
        let v = unpickle(&bytes).unwrap();
        assert_eq!(v, plain_object(), "protocol {proto}");
        // -0.0 == 0.0 under PartialEq: check the sign bit too.
        let Some(Value::List(fl)) = v.get("floats") else {
            panic!()
        };
        assert!(matches!(fl[3], Value::Float(x) if x.is_sign_negative()));
    }
}

#[test]
fn pickle_reader_names_unsupported_opcodes_and_truncation() {
    // EMPTY_SET (0x8f) at offset 3.
    let e = unpickle(b"\x80\x02]\x8f.").unwrap_err();
    assert_eq!((e.offset, e.opcode), (3, Some(0x8f)));
    let msg = e.to_string();
    assert!(
        msg.contains("0x8f") && msg.contains("EMPTY_SET") && msg.contains("offset 3"),
        "{msg}"
    );
    // A BINUNICODE whose length runs past the end.
    let e = unpickle(b"\x80\x02X\x09\x00\x00\x00abc").unwrap_err();
    assert_eq!(e.opcode, Some(b'X'));
    assert!(e.message.contains("data ends"), "{e}");
    // Every prefix of a real torch pickle fails cleanly (no panic), except the whole.
    let entries = read_zip_entries(&fixture("nested.pth"));
    let pkl = &entries
        .iter()
        .find(|(n, _)| n.ends_with("data.pkl"))
        .unwrap()
        .1;
    for n in 0..pkl.len() {
        assert!(unpickle(&pkl[..n]).is_err(), "prefix of {n} bytes parsed");
    }
    assert!(unpickle(pkl).is_ok());
}

#[test]
fn read_weights_any_accepts_the_three_forms_and_names_them_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let net = read_pth_network(&fixture("bare.pth")).unwrap();

    // (a) weight folder.
    let a = dir.path().join("csv");
    write_weight_folder(&a, &net).unwrap();
    let got = read_weights_any(&a).unwrap();
    assert_eq!((got.w_in, got.w_out), (net.w_in.clone(), net.w_out.clone()));

    // (b) checkpoint folder, float32 and float64 .npy files; f32 values come back exactly.
    let b32 = dir.path().join("npy32");
    std::fs::create_dir(&b32).unwrap();
    write_npy_matrix(&b32.join("W_in.npy"), &net.w_in.map(|x| x as f32)).unwrap();
    write_npy_matrix(&b32.join("W_out.npy"), &net.w_out.map(|x| x as f32)).unwrap();
    let got = read_weights_any(&b32).unwrap();
    assert_eq!((got.w_in, got.w_out), (net.w_in.clone(), net.w_out.clone()));
    let untied = read_pth_network(&fixture("untied_f64.pth")).unwrap();
    let b64 = dir.path().join("npy64");
    std::fs::create_dir(&b64).unwrap();
    write_npy_matrix(&b64.join("W_in.npy"), &untied.w_in).unwrap();
    write_npy_matrix(&b64.join("W_out.npy"), &untied.w_out).unwrap();
    write_npy_matrix(&b64.join("W_in_y.npy"), untied.w_in_y.as_ref().unwrap()).unwrap();
    let got = read_weights_any(&b64).unwrap();
    assert_eq!(got.w_in_y, untied.w_in_y);

    // Anything else: the error names the path and the three forms.
    let other = dir.path().join("notes.txt");
    std::fs::write(&other, "W_in").unwrap();
    for bad in [dir.path().to_path_buf(), other, dir.path().join("absent")] {
        match read_weights_any(&bad) {
            Err(e @ Error::WeightsFormat { .. }) => {
                let m = e.to_string();
                assert!(m.contains(&*bad.to_string_lossy()), "{m}");
                for form in ["W_in.csv", "W_in.npy", ".pth"] {
                    assert!(m.contains(form), "{m}");
                }
            }
            r => panic!("{}: {:?}", bad.display(), r.map(|_| ())),
        }
    }
}

#[test]
fn cli_eval_reads_pth_and_reports_missing_keys_in_one_line() {
    let out = assert_cmd::Command::cargo_bin("modadd")
        .unwrap()
        .args(["eval", "--activation", "relu", "--weights"])
        .arg(fixture("nested.pth"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("p = 5, M = 3, 25 pairs"), "{s}");

    let out = assert_cmd::Command::cargo_bin("modadd")
        .unwrap()
        .args(["eval", "--activation", "relu", "--weights"])
        .arg(fixture("missing_key.pth"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(e.trim_end().lines().count(), 1, "{e}");
    assert!(e.contains("mlp.b_out"), "{e}");
}
