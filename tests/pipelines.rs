//! The command bodies as library functions (`modadd::pipelines`), and the pieces the command
//! line relies on: the train overrides, the enum names, the progress text. Each test holds a
//! function to an independent computation or to a value worked out by hand.

use modadd::formats::weights::write_weight_folder;
use modadd::names::{names, parse_name, Named};
use modadd::numerics::activation::Activation;
use modadd::numerics::batch::Batch;
use modadd::numerics::grad::{loss_and_grad, Grads, Workspace};
use modadd::numerics::init::{Init, InitKind};
use modadd::numerics::loss::Loss;
use modadd::numerics::network::{Network, Tying};
use modadd::numerics::optim::{OptimizerConfig, OptimizerKind, Schedule};
use modadd::numerics::task::{all_pairs, Task};
use modadd::pipelines::analyze::analyze_weights;
use modadd::pipelines::eval::{eval, eval_pairs, EvalRequest};
use modadd::pipelines::ode::{ContourGrid, OdeCommand};
use modadd::pipelines::verify::{format_table, Check};
use modadd::science::dynamics::TimeScale;
use modadd::train::config::{BackendKind, Precision, TrainConfig, TrainOverrides};
use modadd::train::driver::{metrics_text, progress_line};
use modadd::train::record::EpochRecord;
use modadd::Error;
use std::path::PathBuf;

fn small_net() -> Network<f64> {
    Network::init(7, 6, Init::Random { scale: 0.7 }, Tying::Tied, 3).unwrap()
}

fn overrides(preset: &str, p: usize) -> TrainOverrides {
    TrainOverrides {
        preset: preset.into(),
        p,
        ..TrainOverrides::default()
    }
}

#[test]
fn overrides_without_fields_give_the_preset() {
    for name in modadd::train::config::PRESETS {
        let got = overrides(name, 11).resolve().unwrap();
        assert_eq!(got, TrainConfig::preset(name, 11).unwrap(), "{name}");
    }
}

#[test]
fn overrides_replace_fields_and_carry_the_rest() {
    // The grokking preset's weight decay (2) carries over to SGD when only the optimiser
    // changes; the single-frequency preset's scale (0.02) when only the initialiser changes.
    let mut o = overrides("grokking", 23);
    o.optimizer = Some(OptimizerKind::Sgd);
    let c = o.resolve().unwrap();
    assert_eq!(c.optimizer, OptimizerConfig::Sgd { weight_decay: 2.0 });
    let mut o = overrides("quad_single_freq", 23);
    o.init = Some(InitKind::Random);
    assert_eq!(o.resolve().unwrap().init, Init::Random { scale: 0.02 });
    let mut o = overrides("standard", 13);
    o.width = Some(40);
    o.epochs = Some(7);
    o.lr = Some(0.5);
    o.warmup = Some(0);
    o.loss = Some(Loss::Mse);
    o.task = Some(Task::Sub);
    o.tying = Some(Tying::Untied);
    o.precision = Some(Precision::F64);
    o.weight_decay = Some(0.25);
    o.record_every = Some(5);
    o.grid_epochs = vec![0, 3];
    let c = o.resolve().unwrap();
    assert_eq!(
        (
            c.width,
            c.epochs,
            c.lr,
            c.schedule,
            c.loss,
            c.task,
            c.tying,
            c.precision
        ),
        (
            40,
            7,
            0.5,
            Schedule::Constant,
            Loss::Mse,
            Task::Sub,
            Tying::Untied,
            Precision::F64
        )
    );
    assert_eq!(c.optimizer, OptimizerConfig::adamw(0.25));
    assert_eq!((c.record.every, c.record.grid_epochs), (5, vec![0, 3]));
}

#[test]
fn overrides_take_the_width_from_initial_weights_and_validate() {
    let d = tempfile::tempdir().unwrap();
    write_weight_folder(d.path(), &small_net()).unwrap();
    let mut o = overrides("quad_random", 7);
    o.init_weights = Some(d.path().to_path_buf());
    assert_eq!(o.resolve().unwrap().width, 6);
    // A sub task on the tied model is refused by validation.
    let mut o = overrides("standard", 7);
    o.task = Some(Task::Sub);
    assert!(matches!(o.resolve(), Err(Error::InvalidParameter { .. })));
    let e = overrides("nope", 7).resolve().unwrap_err();
    assert!(e.to_string().contains("unknown preset 'nope'"), "{e}");
}

/// Every enum read by name: its names are the ones its `name()` writes and serde stores, its
/// aliases and any case are accepted, and a bad name is one message listing the names.
#[test]
fn enum_names_round_trip_and_refuse_with_one_message() {
    for a in Activation::ALL {
        assert_eq!(parse_name::<Activation>(a.name()).unwrap(), a);
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            format!("\"{}\"", a.name())
        );
    }
    for (alias, want) in [
        ("square", Activation::Quad),
        ("U3", Activation::Cube),
        (" linear ", Activation::Identity),
        ("u8", Activation::Pow8),
    ] {
        assert_eq!(parse_name::<Activation>(alias).unwrap(), want, "{alias}");
    }
    for l in [Loss::CeMean, Loss::CeSum, Loss::Mse] {
        assert_eq!(parse_name::<Loss>(l.name()).unwrap(), l);
    }
    assert_eq!(parse_name::<Loss>("ce").unwrap(), Loss::CeMean);
    assert_eq!(parse_name::<Precision>("f64").unwrap(), Precision::F64);
    assert_eq!(
        parse_name::<BackendKind>("cuda").unwrap(),
        BackendKind::Cuda
    );
    assert_eq!(parse_name::<Tying>("untied").unwrap(), Tying::Untied);
    assert_eq!(
        parse_name::<InitKind>("single_freq").unwrap(),
        InitKind::SingleFreq
    );
    assert_eq!(
        parse_name::<OptimizerKind>("adam-w").unwrap(),
        OptimizerKind::Adamw
    );
    assert_eq!(parse_name::<TimeScale>("ce-sum").unwrap(), TimeScale::Sum);
    fn refused<E: Named + std::fmt::Debug>(bad: &str, expected: &str) {
        let e = parse_name::<E>(bad).unwrap_err().to_string();
        assert_eq!(
            e,
            format!("unknown {} '{bad}': expected one of {expected}", E::KIND)
        );
    }
    refused::<Activation>(
        "tanh",
        "quad, relu, abs, pow4, pow8, softplus2, exp, identity, cube",
    );
    refused::<Loss>("hinge", "ce-mean, ce-sum, mse");
    refused::<Precision>("f16", "f32, f64");
    refused::<BackendKind>("tpu", "cpu, cuda");
    refused::<Tying>("shared", "tied, untied");
    refused::<InitKind>("xavier", "random, single-freq");
    refused::<OptimizerKind>("rmsprop", "adamw, sgd");
    refused::<TimeScale>("median", "sum, mean");
    assert_eq!(names::<Precision>(), ["f32", "f64"]);
}

/// `eval` computes what the passes compute directly, in the precision asked, on the pairs file
/// or all pairs; writes `eval.csv` and the gradient; refuses an empty list and a used folder.
#[test]
fn eval_matches_the_passes_and_guards_its_output() {
    let d = tempfile::tempdir().unwrap();
    let w = d.path().join("w");
    let net = small_net();
    write_weight_folder(&w, &net).unwrap();
    let out = d.path().join("out");
    let req = EvalRequest {
        weights: w.clone(),
        activation: Activation::Relu,
        loss: Loss::CeSum,
        task: Task::Add,
        precision: Precision::F64,
        pairs: None,
        out: Some(out.clone()),
        force: false,
    };
    let r = eval(&req).unwrap();
    let pairs = all_pairs(7, Task::Add);
    let mut g = Grads::zeros_like(&net);
    let want = loss_and_grad(
        &net,
        Activation::Relu,
        Loss::CeSum,
        &Batch::new(&pairs, Tying::Tied),
        &mut Workspace::new(),
        &mut g,
    );
    assert_eq!((r.eval, r.grad_norm, r.pairs), (want, g.norm(), 49));
    let csv = std::fs::read_to_string(out.join("eval.csv")).unwrap();
    assert!(
        csv.starts_with(
            "activation,loss_name,precision,pairs,loss,accuracy,grad_norm\nrelu,ce-sum,f64,49,"
        ),
        "{csv}"
    );
    let gw = modadd::formats::weights::read_weight_folder(&out.join("grad")).unwrap();
    assert_eq!(gw.w_in, g.w_in);
    assert!(matches!(eval(&req), Err(Error::OutputExists { .. })));
    // f32: the f32 passes on the weights rounded to f32.
    let r32 = eval(&EvalRequest {
        precision: Precision::F32,
        out: None,
        ..req.clone()
    })
    .unwrap();
    let n32: Network<f32> = net.cast();
    let want32 = loss_and_grad(
        &n32,
        Activation::Relu,
        Loss::CeSum,
        &Batch::new(&pairs, Tying::Tied),
        &mut Workspace::new(),
        &mut Grads::zeros_like(&n32),
    );
    assert_eq!(r32.eval, want32);
    // A pairs file with only a header is an empty list.
    let empty = d.path().join("pairs.csv");
    std::fs::write(&empty, "x,y\n").unwrap();
    assert!(matches!(
        eval_pairs(Some(&empty), 7, Task::Add),
        Err(Error::EmptyPairs { .. })
    ));
    std::fs::write(&empty, "x,y\n1,2\n6,6\n").unwrap();
    let got = eval_pairs(Some(&empty), 7, Task::Sub).unwrap();
    assert_eq!(
        got.iter().map(|q| (q.x, q.y, q.label)).collect::<Vec<_>>(),
        [(1, 2, 6), (6, 6, 0)]
    );
}

/// `analyze_weights` takes the activation and task of the run beside the weights, and refuses
/// weights with neither an activation given nor a run's config.json.
#[test]
fn analyze_finds_the_runs_activation_or_refuses() {
    let d = tempfile::tempdir().unwrap();
    let run = d.path().join("run");
    write_weight_folder(&run.join("final"), &small_net()).unwrap();
    let mut c = TrainConfig::preset("quad_random", 7).unwrap();
    c.width = 6;
    c.write(&run.join("config.json")).unwrap();
    let (act, s) =
        analyze_weights(&run.join("final"), None, None, &d.path().join("a"), false).unwrap();
    assert_eq!(act, Activation::Quad);
    assert_eq!(s.get("width"), Some(6.0));
    let alone = d.path().join("alone");
    write_weight_folder(&alone, &small_net()).unwrap();
    let e = analyze_weights(&alone, None, None, &d.path().join("b"), false).unwrap_err();
    assert!(
        e.to_string().starts_with("unknown activation '(none"),
        "{e}"
    );
    let (act, _) = analyze_weights(
        &alone,
        Some(Activation::Relu),
        None,
        &d.path().join("b"),
        false,
    )
    .unwrap();
    assert_eq!(act, Activation::Relu);
}

#[test]
fn ode_grid_orders_its_starts_and_checks_the_contour_spec() {
    let cmd = OdeCommand {
        p: 5,
        scale: TimeScale::Sum,
        alpha0: vec![0.1, 0.2],
        beta0: vec![],
        d0: vec![0.0, 1.0],
        horizon: 1.0,
        points: 2,
        contour: None,
        out: PathBuf::new(),
    };
    assert_eq!(
        cmd.starts().unwrap(),
        [
            (0.1, 0.1, 0.0),
            (0.1, 0.1, 1.0),
            (0.2, 0.2, 0.0),
            (0.2, 0.2, 1.0)
        ]
    );
    let none = OdeCommand {
        d0: vec![],
        ..cmd.clone()
    };
    assert!(none.starts().is_err());
    let g = ContourGrid::from_spec(&[0.01, 0.02, 3.0], 5, 2.0).unwrap();
    assert_eq!((g.magnitudes, g.d_count, g.horizon), (3, 5, 2.0));
    for bad in [&[0.01, 0.02][..], &[0.01, 0.02, 2.5], &[0.01, 0.02, 0.0]] {
        let e = ContourGrid::from_spec(bad, 5, 2.0).unwrap_err().to_string();
        assert!(e.contains("MIN,MAX,COUNT"), "{e}");
    }
}

#[test]
fn progress_text_is_read_by_a_person() {
    let r = EpochRecord {
        epoch: 100,
        lr: 1e-3,
        train_loss: 3.1352388176726493,
        train_acc: 0.996219281663516,
        test_loss: 0.000123456789,
        test_acc: 0.5,
        grad_norm: 1.0,
        param_norm: 2.0,
    };
    assert_eq!(
        progress_line(&r, 1000),
        "epoch 100/1000: train loss 3.1352 acc 99.6 %, test loss 0.00012346 acc 50.0 %"
    );
    let big = EpochRecord {
        train_loss: 1234567.0,
        test_loss: f64::NAN,
        ..r
    };
    assert_eq!(
        metrics_text(&big),
        "train loss 1.2346e6 acc 99.6 %, test loss NaN acc 50.0 %"
    );
}

#[test]
fn verify_table_has_two_lines_per_check_and_readable_numbers() {
    use modadd::pipelines::verify::{readable, Expected};
    let checks = vec![
        Check {
            claim: "a claim".into(),
            setting: "p = 23".into(),
            expected: Expected::Holds,
            measured: 0.9323308270676691,
            bound: "<= 1".into(),
            pass: true,
        },
        Check {
            claim: "another".into(),
            setting: "p = 13".into(),
            expected: Expected::Fails("erratum".into()),
            measured: 3.1e-15,
            bound: ">= 1".into(),
            pass: false,
        },
    ];
    let t = format_table(&checks);
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines.len(), 5);
    assert!(lines[1].starts_with("a claim") && lines[1].ends_with("agrees"));
    assert!(lines[1].contains(" 0.932 "), "{}", lines[1]);
    assert_eq!(lines[2], "    expected: holds; at: p = 23");
    assert!(lines[3].starts_with("another") && lines[3].ends_with("DEPARTS"));
    assert!(lines[3].contains(" 3.1e-15 "), "{}", lines[3]);
    assert_eq!(lines[4], "    expected: fails: erratum; at: p = 13");
    for (v, want) in [
        (0.9323308270676691, "0.932"),
        (1.0, "1"),
        (1840.0, "1840"),
        (3.0710, "3.07"),
        (50.48, "50.5"),
        (3.1e-15, "3.1e-15"),
        (0.0, "0"),
        (f64::INFINITY, "inf"),
    ] {
        assert_eq!(readable(v), want);
    }
}
