//! Claim: the CUDA backend computes the CPU backend's training step (loss, accuracy, gradients,
//! SGD / AdamW updates) to f32 rounding, and stays close over 1000 AdamW steps.
//!
//! Three implementations are compared:
//! - the CPU backend (`grad::loss_and_grad`, `optim`), itself held to the slow f64 per-pair
//!   reference here;
//! - the CPU twin (`backend::cuda::twin::CudaTwin`): the device's kernels as Rust functions
//!   with the kernels' operation order, driven by the same orchestration as the device;
//! - the device (`CudaBackend`), only when a CUDA device is present.
//!
//! Every test runs its CPU side (twin vs CPU, CPU vs reference) always; the device side prints
//! "skipped: no CUDA device" and returns when `cuda_available()` says no (a build without the
//! `cuda` feature, no driver, or no device).

use modadd::backend::cpu::CpuBackend;
use modadd::backend::cuda::batch::first_layer_lists;
use modadd::backend::cuda::kernels::EpochStats;
use modadd::backend::cuda::twin::{self, CudaTwin};
use modadd::backend::cuda::{cuda_available, CudaBackend};
use modadd::backend::Backend;
use modadd::error::Error;
use modadd::numerics::activation::Activation;
use modadd::numerics::batch::Batch;
use modadd::numerics::grad::{loss_and_grad, reference_loss_and_grad, Eval, Grads, Workspace};
use modadd::numerics::init::Init;
use modadd::numerics::loss::Loss;
use modadd::numerics::network::{Network, Tying};
use modadd::numerics::optim::{Optimizer, OptimizerConfig, Schedule};
use modadd::numerics::task::{Split, Task};

/// Relative loss agreement between two f32 implementations: the per-pair losses agree to a few
/// f32 ulps (exp/log within 1 ulp, logits summed in another order, each ~sqrt(M) eps relative),
/// and the f64 sum of n such terms keeps that relative size: 1e-5 is ~80 f32 eps.
const LOSS_REL_TOL: f64 = 1e-5;
/// Gradient agreement between two f32 implementations, as max |difference| over max |entry|
/// of each tensor: dot products of length up to max(M, n) in another summation order, each
/// with error ~ sqrt(length) * eps * (sum of |terms|), and cancellation in the softmax - onehot
/// factor; 1e-4 is ~800 f32 eps, above sqrt(4096) * eps * 10.
const GRAD_REL_TOL: f64 = 1e-4;
/// Accuracy: two f32 implementations may order two logits closer than their rounding
/// differently; allow at most this many near-tie flips (each worth at most 2 ordered pairs).
const ACC_FLIPS: f64 = 2.0;
/// f32 fast paths vs the f64 per-pair reference: the same bound as between two f32 paths.
const REF_REL_TOL: f64 = GRAD_REL_TOL;
/// Device math vs the C library in ulps: fdlibm-style reductions are faithfully rounded;
/// `kernels/build_ptx.sh` measured 0.861 (exp), 0.772 (log), 0.764 (log1p).
const MATH_ULP_TOL: f64 = 1.0;
/// Drift after 1000 AdamW steps between two f32 implementations is bounded by this factor
/// times the drift between the CPU in f32 and the CPU in f64 (the size of f32 rounding's effect
/// on this trajectory): the two f32 implementations round differently, but no worse than f32
/// does against exact arithmetic, and their difference is at most the sum of the two
/// f32-vs-exact drifts (factor 2), with room for one more of the same size.
const DRIFT_FACTOR: f64 = 3.0;
/// Floor of the drift bound: below this, drifts are at the level of single f32 roundings of
/// weights of size ~1 (a few eps), where the ratio test is meaningless.
const DRIFT_FLOOR: f64 = 1e-6;

/// True when a device is present; otherwise prints the skip line.
fn gpu() -> bool {
    match cuda_available() {
        Ok(()) => true,
        Err(e) => {
            println!("skipped: no CUDA device ({e})");
            false
        }
    }
}

/// One parity case: network, split, activation, loss.
struct Case {
    name: &'static str,
    net: Network<f32>,
    split: Split,
    act: Activation,
    loss: Loss,
}

fn cases() -> Vec<Case> {
    let net = |p, m, tying, scale, seed| {
        Network::<f32>::init(p, m, Init::Random { scale }, tying, seed).expect("valid network")
    };
    vec![
        Case {
            name: "p23 M512 tied relu ce-mean full",
            net: net(23, 512, Tying::Tied, 1.0, 1),
            split: Split::seeded(23, Task::Add, 1.0, 1).unwrap(),
            act: Activation::Relu,
            loss: Loss::CeMean,
        },
        Case {
            name: "p13 M64 tied quad ce-sum 60%",
            net: net(13, 64, Tying::Tied, 1.0, 2),
            split: Split::seeded(13, Task::Add, 0.6, 2).unwrap(),
            act: Activation::Quad,
            loss: Loss::CeSum,
        },
        Case {
            name: "p11 M48 untied quad mse 70% (sub)",
            net: net(11, 48, Tying::Untied, 1.0, 3),
            split: Split::seeded(11, Task::Sub, 0.7, 3).unwrap(),
            act: Activation::Quad,
            loss: Loss::Mse,
        },
        Case {
            name: "p11 M40 tied softplus2 ce-mean full",
            net: net(11, 40, Tying::Tied, 1.0, 4),
            split: Split::seeded(11, Task::Add, 1.0, 4).unwrap(),
            act: Activation::Softplus2,
            loss: Loss::CeMean,
        },
        Case {
            // The 128 x 128 GEMM kernel for all three products, split along k for two of them
            // (see split_k_plans_cover_k_exactly_once).
            name: "p67 M128 tied quad ce-mean full",
            net: net(67, 128, Tying::Tied, 1.0, 6),
            split: Split::seeded(67, Task::Add, 1.0, 6).unwrap(),
            act: Activation::Quad,
            loss: Loss::CeMean,
        },
        Case {
            name: "p11 M40 tied exp ce-mean 50%",
            net: net(11, 40, Tying::Tied, 0.5, 5),
            split: Split::seeded(11, Task::Add, 0.5, 5).unwrap(),
            act: Activation::Exp,
            loss: Loss::CeMean,
        },
    ]
}

fn sgd(net: &Network<f32>, wd: f64) -> Optimizer<f32> {
    let sizes: Vec<usize> = net.param_slices().iter().map(|s| s.len()).collect();
    OptimizerConfig::Sgd { weight_decay: wd }
        .build(&sizes)
        .unwrap()
}

fn adamw(net: &Network<f32>, wd: f64) -> Optimizer<f32> {
    let sizes: Vec<usize> = net.param_slices().iter().map(|s| s.len()).collect();
    OptimizerConfig::adamw(wd).build(&sizes).unwrap()
}

/// max |a - b| / max |b| over one tensor (0 when both are 0).
fn rel_max<A: Copy + Into<f64>, B: Copy + Into<f64>>(a: &[A], b: &[B]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(0.0f64, |m, &v| m.max(v.into().abs()));
    let diff = a
        .iter()
        .zip(b)
        .fold(0.0f64, |m, (&x, &y)| m.max((x.into() - y.into()).abs()));
    if scale == 0.0 {
        diff
    } else {
        diff / scale
    }
}

/// Largest per-tensor relative deviation between two gradients.
fn grads_rel(a: &Grads<f32>, b: &Grads<f32>) -> f64 {
    let mut r = rel_max(a.w_in.as_slice(), b.w_in.as_slice())
        .max(rel_max(a.w_out.as_slice(), b.w_out.as_slice()));
    if let (Some(x), Some(y)) = (&a.w_in_y, &b.w_in_y) {
        r = r.max(rel_max(x.as_slice(), y.as_slice()));
    }
    r
}

fn params_rel(a: &Network<f32>, b: &Network<f32>) -> f64 {
    a.param_slices()
        .iter()
        .zip(b.param_slices())
        .map(|(x, y)| rel_max(x, y))
        .fold(0.0, f64::max)
}

fn assert_eval_close(what: &str, got: Eval, want: Eval, n: usize) {
    let rel = (got.loss - want.loss).abs() / want.loss.abs().max(f64::MIN_POSITIVE);
    assert!(
        rel <= LOSS_REL_TOL,
        "{what}: loss {} vs {} (relative {rel:e} > {LOSS_REL_TOL:e})",
        got.loss,
        want.loss
    );
    let dacc = (got.accuracy - want.accuracy).abs() * n as f64;
    assert!(
        dacc <= 2.0 * ACC_FLIPS,
        "{what}: accuracy {} vs {} ({dacc} pairs apart)",
        got.accuracy,
        want.accuracy
    );
}

/// The CPU backend's loss, accuracy and gradient of a case (f32).
fn cpu_loss_grad(c: &Case) -> (Eval, Grads<f32>) {
    let batch = Batch::<f32>::new(&c.split.train, c.net.tying());
    let mut g = Grads::zeros_like(&c.net);
    let ev = loss_and_grad(&c.net, c.act, c.loss, &batch, &mut Workspace::new(), &mut g);
    (ev, g)
}

#[test]
fn device_math_is_faithfully_rounded() {
    let ulp = |got: f32, want: f64| {
        let w = want as f32;
        let step = (f32::from_bits(w.abs().to_bits() + 1) - w.abs()) as f64;
        (got as f64 - want).abs() / step
    };
    let (mut e_exp, mut e_log, mut e_l1p) = (0.0f64, 0.0f64, 0.0f64);
    let mut x = -87.0f64;
    while x <= 88.0 {
        let xf = x as f32;
        e_exp = e_exp.max(ulp(twin::expf_acc(xf), (xf as f64).exp()));
        x += 1.0 / 1024.0;
    }
    let mut x = 1e-37f64;
    while x < 1e38 {
        let xf = x as f32;
        e_log = e_log.max(ulp(twin::logf_acc(xf), (xf as f64).ln()));
        x *= 1.001;
    }
    let mut t = 0.0f64;
    while t <= 1.0 {
        let tf = t as f32;
        e_l1p = e_l1p.max(ulp(twin::log1pf_acc(tf), (tf as f64).ln_1p()));
        t += 1.0 / 16384.0;
    }
    println!("max error: exp {e_exp:.3} ulp, log {e_log:.3} ulp, log1p {e_l1p:.3} ulp");
    assert!(e_exp <= MATH_ULP_TOL, "expf_acc error {e_exp} ulp");
    assert!(e_log <= MATH_ULP_TOL, "logf_acc error {e_log} ulp");
    assert!(e_l1p <= MATH_ULP_TOL, "log1pf_acc error {e_l1p} ulp");
    // Special values as the kernels define them.
    assert_eq!(twin::expf_acc(100.0), f32::INFINITY);
    assert_eq!(twin::expf_acc(-200.0), 0.0);
    assert!(twin::expf_acc(f32::NAN).is_nan());
    assert_eq!(twin::logf_acc(0.0), f32::NEG_INFINITY);
    assert!(twin::logf_acc(-1.0).is_nan());
    assert_eq!(twin::logf_acc(1.0), 0.0);
    // Subnormal inputs and outputs.
    let sub = f32::from_bits(1000);
    assert!(ulp(twin::logf_acc(sub), (sub as f64).ln()) <= MATH_ULP_TOL);
    assert!(twin::expf_acc(-100.0) > 0.0 && twin::expf_acc(-100.0) < f32::MIN_POSITIVE);
}

#[test]
fn kernel_activations_match_the_model() {
    // The twin's (= the kernels') sigma and sigma' against model.rs, within the math tolerance.
    for act in Activation::ALL {
        let code = modadd::backend::cuda::batch::act_code(act);
        for i in -40..=40 {
            let u = i as f32 * 0.173;
            for (got, want) in [
                (twin::act_value(code, u), act.value(u)),
                (twin::act_deriv(code, u), act.deriv(u)),
            ] {
                let tol = 4.0 * f32::EPSILON * want.abs().max(f32::MIN_POSITIVE);
                assert!(
                    (got - want).abs() <= tol,
                    "{}: at {u}: kernel {got} vs model {want}",
                    act.name()
                );
            }
        }
    }
}

#[test]
fn first_layer_gather_equals_the_scatter_add() {
    // dL/dW_in[m, v] = sum over the rows listed for v of dL/dh[r, m] (the scatter_first kernel)
    // equals the per-pair scatter-add of the f64 reference, tied and untied.
    for (tying, task) in [(Tying::Tied, Task::Add), (Tying::Untied, Task::Sub)] {
        let p = 7;
        let net = Network::<f64>::init(p, 12, Init::Random { scale: 1.0 }, tying, 9).unwrap();
        let split = Split::seeded(p, task, 0.8, 9).unwrap();
        let (act, loss) = (Activation::Quad, Loss::CeMean);
        let (_, want) = reference_loss_and_grad(&net, act, loss, &split.train);
        // dL/dh per pair, from the formulas (f64).
        let pairs = &split.train;
        let s = loss.normalisation(pairs.len());
        let wy = net.w_in_second().clone();
        let m_w = net.width();
        let mut dh = vec![0.0f64; pairs.len() * m_w];
        for (r, q) in pairs.iter().enumerate() {
            let (x, y, c) = (q.x as usize, q.y as usize, q.label as usize);
            let h: Vec<f64> = (0..m_w).map(|m| net.w_in[(m, x)] + wy[(m, y)]).collect();
            let mut z: Vec<f64> = (0..p)
                .map(|j| (0..m_w).map(|m| net.w_out[(j, m)] * act.value(h[m])).sum())
                .collect();
            loss.pair_loss_and_grad(&mut z, c);
            for m in 0..m_w {
                let da: f64 = (0..p).map(|j| s * z[j] * net.w_out[(j, m)]).sum();
                dh[r * m_w + m] = da * act.deriv(h[m]);
            }
        }
        let xs: Vec<u32> = pairs.iter().map(|q| q.x).collect();
        let ys: Vec<u32> = pairs.iter().map(|q| q.y).collect();
        let gather = |offs: &[i32], list: &[i32]| {
            let mut g = vec![0.0f64; m_w * p];
            for v in 0..p {
                for m in 0..m_w {
                    g[v * m_w + m] = list[offs[v] as usize..offs[v + 1] as usize]
                        .iter()
                        .map(|&r| dh[r as usize * m_w + m])
                        .sum();
                }
            }
            g
        };
        let check = |got: &[f64], want: &[f64]| {
            let err = got
                .iter()
                .zip(want)
                .fold(0.0f64, |e, (a, b)| e.max((a - b).abs()));
            assert!(err <= 1e-12, "{tying:?}: gather vs scatter {err:e}");
        };
        match tying {
            Tying::Tied => {
                let (offs, list) = first_layer_lists(p, &[&xs, &ys]);
                assert_eq!(list.len(), 2 * pairs.len());
                check(&gather(&offs, &list), want.w_in.as_slice());
            }
            Tying::Untied => {
                let (ox, lx) = first_layer_lists(p, &[&xs]);
                let (oy, ly) = first_layer_lists(p, &[&ys]);
                check(&gather(&ox, &lx), want.w_in.as_slice());
                check(&gather(&oy, &ly), want.w_in_y.as_ref().unwrap().as_slice());
            }
        }
    }
}

#[test]
fn loss_accuracy_and_gradients_match_the_cpu() {
    let mut device_cases = Vec::new();
    for c in cases() {
        // CPU vs the f64 per-pair reference.
        let (cpu_ev, cpu_g) = cpu_loss_grad(&c);
        let (ref_ev, ref_g) = reference_loss_and_grad(&c.net, c.act, c.loss, &c.split.train);
        let ref_g32 = Grads {
            w_in: ref_g.w_in.map(|v| v as f32),
            w_out: ref_g.w_out.map(|v| v as f32),
            w_in_y: ref_g.w_in_y.map(|w| w.map(|v| v as f32)),
        };
        assert_eval_close(c.name, cpu_ev, ref_ev, c.split.train.len());
        let r = grads_rel(&cpu_g, &ref_g32);
        assert!(
            r <= REF_REL_TOL,
            "{}: CPU vs reference gradient {r:e}",
            c.name
        );
        // Twin vs CPU.
        let mut tw =
            CudaTwin::new(c.net.clone(), c.act, c.loss, &c.split, sgd(&c.net, 0.0)).unwrap();
        let (tw_ev, tw_g) = tw.loss_and_grad().unwrap();
        assert_eval_close(c.name, tw_ev, cpu_ev, c.split.train.len());
        let r = grads_rel(&tw_g, &cpu_g);
        println!(
            "{}: twin vs CPU gradient {r:e}, loss {} vs {}",
            c.name, tw_ev.loss, cpu_ev.loss
        );
        assert!(r <= GRAD_REL_TOL, "{}: twin vs CPU gradient {r:e}", c.name);
        // Test-set evaluation (partial splits).
        let mut cpu_b = CpuBackend::new(c.net.clone(), c.act, c.loss, &c.split, sgd(&c.net, 0.0));
        match (tw.eval_test(), cpu_b.eval_test()) {
            (Some(a), Some(b)) => assert_eval_close(c.name, a, b, c.split.test.len()),
            (None, None) => {}
            other => panic!("{}: test evaluation presence differs: {other:?}", c.name),
        }
        device_cases.push((c, tw_ev, tw_g, cpu_ev, cpu_g));
    }
    if !gpu() {
        return;
    }
    for (c, tw_ev, tw_g, cpu_ev, cpu_g) in device_cases {
        let mut dev =
            CudaBackend::new(c.net.clone(), c.act, c.loss, &c.split, sgd(&c.net, 0.0)).unwrap();
        let (ev, g) = dev.loss_and_grad().unwrap();
        assert_eval_close(c.name, ev, cpu_ev, c.split.train.len());
        let r = grads_rel(&g, &cpu_g);
        println!("{}: device vs CPU gradient {r:e}", c.name);
        assert!(
            r <= GRAD_REL_TOL,
            "{}: device vs CPU gradient {r:e}",
            c.name
        );
        // The device reproduces its twin exactly (same operations in the same order).
        assert_eq!(ev, tw_ev, "{}: device vs twin loss/accuracy", c.name);
        assert_eq!(
            grads_rel(&g, &tw_g),
            0.0,
            "{}: device vs twin gradient",
            c.name
        );
    }
}

/// One step of `opt` on the CPU, the twin and (if present) the device: weights after the step,
/// and the pre-update statistics.
fn one_step_case(opt_of: fn(&Network<f32>, f64) -> Optimizer<f32>, wd: f64, lr: f32) {
    let c = &cases()[1];
    let mut cpu = CpuBackend::new(c.net.clone(), c.act, c.loss, &c.split, opt_of(&c.net, wd));
    let mut tw = CudaTwin::new(c.net.clone(), c.act, c.loss, &c.split, opt_of(&c.net, wd)).unwrap();
    let s_cpu = cpu.step(lr);
    let s_tw = tw.step(lr);
    let check = |who: &str, s: modadd::backend::StepStats, net: &Network<f32>| {
        assert_eval_close(who, s.train, s_cpu.train, c.split.train.len());
        // Both norms are f64 sums of the same f32 squares in another order.
        let pn = (s.param_norm - s_cpu.param_norm).abs() / s_cpu.param_norm;
        assert!(
            pn <= 1e-12,
            "{who}: parameter norm {} vs {}",
            s.param_norm,
            s_cpu.param_norm
        );
        let gn = (s.grad_norm - s_cpu.grad_norm).abs() / s_cpu.grad_norm;
        assert!(
            gn <= GRAD_REL_TOL,
            "{who}: gradient norm {} vs {}",
            s.grad_norm,
            s_cpu.grad_norm
        );
        // Weights after the update: start + lr * (update of relative size GRAD_REL_TOL).
        let r = params_rel(net, &cpu.network());
        assert!(r <= GRAD_REL_TOL, "{who}: weights after one step {r:e}");
    };
    check("twin", s_tw, &tw.network());
    let o_tw = tw.optimizer();
    if let (Optimizer::Adamw(a), Optimizer::Adamw(b)) = (&o_tw, &cpu.optimizer()) {
        assert_eq!(a.t, b.t);
        for k in 0..a.m.len() {
            assert!(rel_max(&a.m[k], &b.m[k]) <= GRAD_REL_TOL, "first moments");
            // v ~ g^2: twice the gradient's relative error.
            assert!(
                rel_max(&a.v[k], &b.v[k]) <= 2.0 * GRAD_REL_TOL,
                "second moments"
            );
        }
    }
    if !gpu() {
        return;
    }
    let mut dev =
        CudaBackend::new(c.net.clone(), c.act, c.loss, &c.split, opt_of(&c.net, wd)).unwrap();
    let s_dev = dev.step(lr);
    check("device", s_dev, &dev.network());
    assert_eq!(s_dev, s_tw, "device vs twin statistics");
    assert_eq!(
        params_rel(&dev.network(), &tw.network()),
        0.0,
        "device vs twin weights"
    );
    assert_eq!(dev.optimizer(), o_tw, "device vs twin optimiser state");
}

#[test]
fn one_sgd_step_matches_the_cpu() {
    one_step_case(sgd, 0.01, 0.05);
}

#[test]
fn one_adamw_step_matches_the_cpu() {
    one_step_case(adamw, 0.1, 1e-3);
}

/// Drift of a run against the CPU f32 run: max relative weight deviation.
fn run_steps<B: Backend<f32>>(b: &mut B, lrs: &[f32]) -> Vec<f64> {
    lrs.iter().map(|&lr| b.step(lr).train.loss).collect()
}

/// (Over 80 lines: one CPU f32/f64 reference run against which the twin and then the device are
/// checked; both share it.)
#[test]
fn adamw_1000_steps_stay_within_the_f32_drift() {
    const STEPS: usize = 1000;
    // A smooth trajectory (Quad): with ReLU the same run is chaotic at the f32 level (CPU f32
    // vs f64 drift 12 % after 1000 steps at lr 1e-3, 43 % at lr 3e-3 with wd 0.5), which would
    // make any drift bound vacuous.
    const WD: f64 = 0.1;
    let p = 13;
    let init = Init::Random { scale: 0.5 };
    let net = Network::<f32>::init(p, 64, init, Tying::Tied, 11).unwrap();
    let net64 = Network::<f64>::init(p, 64, init, Tying::Tied, 11).unwrap();
    let split = Split::seeded(p, Task::Add, 0.8, 11).unwrap();
    let (act, loss) = (Activation::Quad, Loss::CeMean);
    // The reference schedule: warm-up over 10 updates, lr passed in per step.
    let sched = Schedule::Warmup { steps: 10 };
    let lrs: Vec<f32> = (0..STEPS)
        .map(|s| sched.lr(1e-3, s as u64) as f32)
        .collect();
    let sizes: Vec<usize> = net.param_slices().iter().map(|s| s.len()).collect();
    let opt64 = OptimizerConfig::adamw(WD).build::<f64>(&sizes).unwrap();
    let mut cpu32 = CpuBackend::new(net.clone(), act, loss, &split, adamw(&net, WD));
    let mut cpu64 = CpuBackend::new(net64, act, loss, &split, opt64);
    let l32 = run_steps(&mut cpu32, &lrs);
    let l64: Vec<f64> = lrs
        .iter()
        .map(|&lr| cpu64.step(lr as f64).train.loss)
        .collect();
    // The same rule for the last logged loss (relative).
    let ref_loss = (l32[STEPS - 1] - l64[STEPS - 1]).abs() / l64[STEPS - 1];
    let loss_bound = (DRIFT_FACTOR * ref_loss).max(LOSS_REL_TOL);
    let w32 = cpu32.network();
    let w64 = cpu64.network().cast::<f32>();
    let ref_drift = params_rel(&w32, &w64);
    let bound = (DRIFT_FACTOR * ref_drift).max(DRIFT_FLOOR);
    let final_loss = cpu32.eval_train().loss;
    println!(
        "CPU f32 vs f64 after {STEPS} AdamW steps: weight drift {ref_drift:e} (relative to max \
         |w|); loss {} -> {final_loss}, last logged loss f32 vs f64 {ref_loss:e}; bounds for \
         f32 implementations: weights {bound:e}, loss {loss_bound:e}",
        l32[0]
    );
    // The run must actually train, or the drift test says nothing.
    assert!(
        final_loss < 1e-2 * l32[0],
        "the run did not train: {} -> {final_loss}",
        l32[0]
    );
    let mut tw = CudaTwin::new(net.clone(), act, loss, &split, adamw(&net, WD)).unwrap();
    let tw_stats = tw.run_epochs(&lrs).unwrap();
    let tw_drift = params_rel(&tw.network(), &w32);
    println!("twin vs CPU f32 after {STEPS} AdamW steps: weight drift {tw_drift:e}");
    assert!(tw_drift <= bound, "twin drift {tw_drift:e} > {bound:e}");
    let tw_final = tw_stats.last().unwrap().step.train.loss;
    let l_rel = (tw_final - l32[STEPS - 1]).abs() / l32[STEPS - 1];
    assert!(
        l_rel <= loss_bound,
        "twin final loss {tw_final} vs {}",
        l32[STEPS - 1]
    );
    if !gpu() {
        return;
    }
    let mut dev = CudaBackend::new(net.clone(), act, loss, &split, adamw(&net, WD)).unwrap();
    let dev_stats = dev.run_epochs(&lrs).unwrap();
    let dev_drift = params_rel(&dev.network(), &w32);
    println!("device vs CPU f32 after {STEPS} AdamW steps: weight drift {dev_drift:e}");
    assert!(dev_drift <= bound, "device drift {dev_drift:e} > {bound:e}");
    let dev_final = dev_stats.last().unwrap().step.train.loss;
    let l_rel = (dev_final - l32[STEPS - 1]).abs() / l32[STEPS - 1];
    assert!(
        l_rel <= loss_bound,
        "device final loss {dev_final} vs {}",
        l32[STEPS - 1]
    );
    assert_eq!(
        dev_stats, tw_stats,
        "device vs twin statistics over {STEPS} steps"
    );
    assert_eq!(
        params_rel(&dev.network(), &tw.network()),
        0.0,
        "device vs twin weights"
    );
}

/// Batched epochs equal epoch-by-epoch stepping (same kernels, same order), on any Kernels.
fn batched_equals_stepping<B: Backend<f32>>(
    make: &dyn Fn() -> B,
    batched: &dyn Fn(&mut B, &[f32]) -> Vec<EpochStats>,
    lrs: &[f32],
) {
    let mut a = make();
    let mut b = make();
    let got = batched(&mut a, lrs);
    for (e, &lr) in lrs.iter().enumerate() {
        let test = b.eval_test();
        let step = b.step(lr);
        assert_eq!(got[e], EpochStats { test, step }, "epoch {e}");
    }
    assert_eq!(a.network(), b.network());
    assert_eq!(a.optimizer(), b.optimizer());
}

#[test]
fn batched_epochs_equal_single_steps() {
    let c = &cases()[1];
    let lrs: Vec<f32> = (0..12).map(|s| 1e-2 * (s as f32 / 4.0).min(1.0)).collect();
    let make_twin =
        || CudaTwin::new(c.net.clone(), c.act, c.loss, &c.split, adamw(&c.net, 0.1)).unwrap();
    batched_equals_stepping(&make_twin, &|b, l| b.run_epochs(l).unwrap(), &lrs);
    if !gpu() {
        return;
    }
    let make_dev =
        || CudaBackend::new(c.net.clone(), c.act, c.loss, &c.split, adamw(&c.net, 0.1)).unwrap();
    batched_equals_stepping(&make_dev, &|b, l| b.run_epochs(l).unwrap(), &lrs);
    // Deterministic: two devices runs give the same bits.
    let (mut a, mut b) = (make_dev(), make_dev());
    assert_eq!(a.run_epochs(&lrs).unwrap(), b.run_epochs(&lrs).unwrap());
    assert_eq!(a.network(), b.network());
}

#[test]
fn state_round_trips_through_the_backend() {
    // set_state then network/optimizer give back what was set (twin always; device if present).
    let c = &cases()[2];
    let mut cpu = CpuBackend::new(c.net.clone(), c.act, c.loss, &c.split, adamw(&c.net, 0.1));
    for _ in 0..3 {
        cpu.step(1e-2);
    }
    let (net, opt) = (cpu.network(), cpu.optimizer());
    let mut tw = CudaTwin::new(c.net.clone(), c.act, c.loss, &c.split, adamw(&c.net, 0.1)).unwrap();
    tw.set_state(net.clone(), opt.clone());
    assert_eq!(tw.network(), net);
    assert_eq!(tw.optimizer(), opt);
    if !gpu() {
        return;
    }
    let mut dev =
        CudaBackend::new(c.net.clone(), c.act, c.loss, &c.split, adamw(&c.net, 0.1)).unwrap();
    dev.set_state(net.clone(), opt.clone());
    assert_eq!(dev.network(), net);
    assert_eq!(dev.optimizer(), opt);
}

#[test]
fn a_missing_device_is_a_clear_error() {
    let c = &cases()[3];
    let made = CudaBackend::new(c.net.clone(), c.act, c.loss, &c.split, sgd(&c.net, 0.0));
    match cuda_available() {
        Err(e) => {
            // Without the feature, driver or device: the same typed error from the constructor.
            assert!(
                matches!(
                    e,
                    Error::BackendUnavailable {
                        backend: "cuda",
                        ..
                    }
                ),
                "unexpected error {e:?}"
            );
            let msg = e.to_string();
            assert!(msg.starts_with("backend 'cuda' unavailable: "), "{msg}");
            match made {
                Err(Error::BackendUnavailable {
                    backend: "cuda",
                    reason,
                }) => {
                    assert!(!reason.is_empty())
                }
                Err(other) => panic!("unexpected error {other:?}"),
                Ok(_) => panic!("constructed a CUDA backend although cuda_available() failed"),
            }
            println!("skipped: no CUDA device ({msg})");
        }
        Ok(()) => {
            let dev = made.expect("a device is present");
            println!("CUDA device: {}", dev.device_name());
            assert_eq!(dev.name(), "cuda");
        }
    }
}

#[test]
fn train_backend_cuda_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let run = |backend: &str, out: &std::path::Path| {
        assert_cmd::Command::cargo_bin("modadd")
            .unwrap()
            .args(["train", "--p", "11", "--width", "16", "--epochs", "5", "-q"])
            .args(["--checkpoint-every", "0", "--backend", backend, "--out"])
            .arg(out)
            .output()
            .unwrap()
    };
    let res = run("cuda", &out);
    if let Err(e) = cuda_available() {
        // One line on stderr, exit status 1 (a failed run, not a bad argument), nothing written.
        let err = String::from_utf8(res.stderr).unwrap();
        assert_eq!(res.status.code(), Some(1), "stderr: {err}");
        assert_eq!(err.lines().count(), 1, "stderr: {err}");
        assert!(
            err.starts_with("error: backend 'cuda' unavailable: "),
            "{err}"
        );
        assert!(!out.exists(), "a run folder was created");
        println!("skipped: no CUDA device ({e})");
        return;
    }
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    // The device's log agrees with the CPU's to the stated tolerances.
    let cpu_out = dir.path().join("cpu");
    assert!(run("cpu", &cpu_out).status.success());
    let read = |p: &std::path::Path| -> Vec<Vec<f64>> {
        let text = std::fs::read_to_string(p.join("training_log.csv")).unwrap();
        text.lines()
            .skip(1)
            .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
            .collect()
    };
    let (dev, cpu) = (read(&out), read(&cpu_out));
    assert_eq!(dev.len(), cpu.len());
    for (d, c) in dev.iter().zip(&cpu) {
        // Columns: epoch, lr, train loss, train acc, test loss, test acc, grad norm, param norm.
        for k in [2, 4, 6, 7] {
            let rel = (d[k] - c[k]).abs() / c[k].abs();
            assert!(
                rel <= GRAD_REL_TOL,
                "epoch {}: column {k}: {} vs {}",
                d[0],
                d[k],
                c[k]
            );
        }
    }
}

#[test]
fn split_k_plans_cover_k_exactly_once() {
    // Every k in 0..nk lies in exactly one split, splits are whole 16-wide slices, and the
    // products of the benchmark shapes are split where their output is small.
    use modadd::backend::cuda::layout::Layout;
    for (p, m) in [
        (23, 512),
        (97, 1024),
        (97, 9107),
        (67, 128),
        (11, 40),
        (13, 64),
    ] {
        let rows = p * (p + 1) / 2;
        let sizes = vec![m * p, p * m];
        let lay = Layout {
            p,
            width: m,
            tying: Tying::Tied,
            act: Activation::Relu,
            loss: Loss::CeMean,
            sizes,
            train: (rows, p * p),
            test: None,
        };
        for call in [
            lay.logits_gemm(rows),
            lay.grad_out_gemm(),
            lay.grad_h_gemm(),
        ] {
            let (kchunk, splits) = call.split_plan();
            assert!(splits >= 1 && kchunk >= 1);
            assert!(kchunk * splits >= call.nk, "{call:?}: k not covered");
            assert!(kchunk * (splits - 1) < call.nk, "{call:?}: an empty split");
            if splits > 1 {
                assert_eq!(kchunk % 16, 0, "{call:?}");
                assert!(!call.scale_by_c && call.ldc == call.nc);
            }
            println!(
                "p {p} M {m}: {} x {} x {} -> {} tiles, {splits} splits of {kchunk}",
                call.nr,
                call.nc,
                call.nk,
                call.kernel()
            );
        }
        // The logits product at (23, 512) is tiny in output and long in k: it must be split.
        if (p, m) == (23, 512) {
            assert!(lay.logits_gemm(rows).split_plan().1 > 1);
        }
        // At p = 23 the products are small (64 x 64 tiles); at p = 97 every product runs on
        // 128 x 128 tiles.
        if p == 23 {
            for call in [
                lay.logits_gemm(rows),
                lay.grad_out_gemm(),
                lay.grad_h_gemm(),
            ] {
                assert_eq!(call.tile(), 64, "{call:?}");
            }
        }
        if p == 97 || p == 67 {
            for call in [
                lay.logits_gemm(rows),
                lay.grad_out_gemm(),
                lay.grad_h_gemm(),
            ] {
                assert_eq!(call.tile(), 128, "{call:?}");
            }
        }
        // The p = 67 parity case runs the wide kernel split along k.
        if p == 67 {
            assert!(lay.logits_gemm(rows).split_plan().1 > 1);
            assert!(lay.grad_out_gemm().split_plan().1 > 1);
        }
    }
}

#[test]
fn the_trainer_drives_the_twin_like_the_cpu() {
    // The grokking preset's settings (AdamW, wd 2, warm-up, 75 % split) at a small size: the
    // trainer's per-epoch records agree between the CPU backend and the CUDA twin (and the device).
    use modadd::train::config::TrainConfig;
    use modadd::train::trainer::Trainer;
    let mut cfg = TrainConfig::preset("grokking", 11).unwrap();
    cfg.width = 32;
    cfg.epochs = 40;
    cfg.lr = 1e-2;
    let split = cfg.split().unwrap();
    let net = cfg.initial_network::<f32>().unwrap();
    let sizes: Vec<usize> = net.param_slices().iter().map(|s| s.len()).collect();
    let opt = cfg.optimizer.build::<f32>(&sizes).unwrap();
    let twin = CudaTwin::new(net, cfg.activation, cfg.loss, &split, opt).unwrap();
    let mut a = Trainer::<f32, _>::cpu(&cfg, &split).unwrap();
    let mut b = Trainer::with_backend(cfg.clone(), twin);
    let mut dev = if gpu() {
        Some(Trainer::cuda(&cfg, &split).unwrap())
    } else {
        None
    };
    for _ in 0..cfg.epochs {
        let ra = a.next_epoch().unwrap();
        let mut others = vec![("twin", b.next_epoch().unwrap())];
        if let Some(d) = dev.as_mut() {
            others.push(("device", d.next_epoch().unwrap()));
        }
        for (who, rb) in others {
            assert_eq!((ra.epoch, ra.lr), (rb.epoch, rb.lr));
            for (name, x, y) in [
                ("train loss", rb.train_loss, ra.train_loss),
                ("test loss", rb.test_loss, ra.test_loss),
                ("grad norm", rb.grad_norm, ra.grad_norm),
                ("param norm", rb.param_norm, ra.param_norm),
            ] {
                let rel = (x - y).abs() / y.abs();
                assert!(
                    rel <= GRAD_REL_TOL,
                    "{who} epoch {}: {name} {x} vs {y}",
                    ra.epoch
                );
            }
            let n_train = split.train.len() as f64;
            let n_test = split.test.len() as f64;
            assert!((rb.train_acc - ra.train_acc).abs() * n_train <= 2.0 * ACC_FLIPS);
            assert!((rb.test_acc - ra.test_acc).abs() * n_test <= 2.0 * ACC_FLIPS);
        }
    }
}

/// The kernels' C source compiled for the host (feature `kernel-emu`) against the Rust twin:
/// the same numbers to the bit, for the gradient of every case and a few optimiser steps. This
/// checks the kernels' own indexing, bounds, barriers, split-K offsets and reductions without a
/// GPU; only the compiler (host C++ vs PTX) and the cust launch code differ from the device.
#[cfg(feature = "kernel-emu")]
#[test]
fn emulated_kernels_reproduce_the_twin_bit_for_bit() {
    // SGD for even cases, AdamW for odd ones: the emulation is slow (a fiber switch per thread
    // and barrier), so each case runs one optimiser.
    for (i, c) in cases().into_iter().enumerate() {
        let pick = if i % 2 == 0 {
            ("sgd", sgd(&c.net, 0.01))
        } else {
            ("adamw", adamw(&c.net, 0.1))
        };
        let (opt_name, opt) = pick;
        let mut tw = CudaTwin::new(c.net.clone(), c.act, c.loss, &c.split, opt.clone()).unwrap();
        let mut em = CudaTwin::new_emulated(c.net.clone(), c.act, c.loss, &c.split, opt).unwrap();
        let (ev_t, g_t) = tw.loss_and_grad().unwrap();
        let (ev_e, g_e) = em.loss_and_grad().unwrap();
        assert_eq!(ev_e, ev_t, "{} {opt_name}: loss/accuracy", c.name);
        assert_eq!(g_e, g_t, "{} {opt_name}: gradient", c.name);
        let lrs = [1e-3, 2e-3];
        let s_t = tw.run_epochs(&lrs).unwrap();
        let s_e = em.run_epochs(&lrs).unwrap();
        assert_eq!(s_e, s_t, "{} {opt_name}: statistics", c.name);
        assert_eq!(em.network(), tw.network(), "{} {opt_name}: weights", c.name);
        assert_eq!(
            em.optimizer(),
            tw.optimizer(),
            "{} {opt_name}: optimiser",
            c.name
        );
        println!("{} {opt_name}: emulated kernels = twin", c.name);
    }
}

/// (Over 80 lines: the list of every launch the backend builds, one entry per kernel and variant,
/// is a table.)
#[test]
fn launch_arguments_match_the_ptx_signatures() {
    // Every kernel launch the backend builds (the device and the emulation pass exactly these
    // argument lists) has the number, sizes and float-ness of the PTX entry's parameters.
    use modadd::backend::cuda::buffers::{BufferOffset, KernelBuffer, PairSet};
    use modadd::backend::cuda::kernels::{AdamScalars, OPT_BLOCKS, PTX};
    use modadd::backend::cuda::launch::{spec, Arg};
    use modadd::backend::cuda::layout::Layout;
    use modadd::backend::cuda::ptx::ptx_params;
    let params = ptx_params(PTX);
    let names: Vec<&str> = params.keys().map(|s| s.as_str()).collect();
    assert_eq!(
        names,
        [
            "adamw_step",
            "first_layer",
            "gemm_f32",
            "gemm_f32_wide",
            "loss_rows",
            "reduce2",
            "scatter_first",
            "sgd_step",
            "sum_splits"
        ]
    );
    let at = |buf, off| BufferOffset { buf, off };
    let lay = Layout {
        p: 97,
        width: 1024,
        tying: Tying::Tied,
        act: Activation::Relu,
        loss: Loss::CeMean,
        sizes: vec![97 * 1024, 97 * 1024],
        train: (4753, 97 * 97),
        test: None,
    };
    let small = Layout {
        p: 11,
        width: 40,
        sizes: vec![440, 440],
        train: (66, 121),
        ..lay.clone()
    };
    let adam = AdamScalars {
        decay: 1.0,
        b1: 0.9,
        b2: 0.98,
        step: 1e-3,
        bc2_sqrt: 0.1,
        eps: 1e-8,
    };
    let mut specs = vec![
        spec::first_layer(
            at(KernelBuffer::Params, 0),
            at(KernelBuffer::Params, 0),
            PairSet::Train,
            66,
            40,
            1,
            true,
        ),
        spec::first_layer(
            at(KernelBuffer::Params, 0),
            at(KernelBuffer::Params, 0),
            PairSet::Test,
            66,
            40,
            1,
            false,
        ),
        spec::sum_splits(
            at(KernelBuffer::SplitK, 0),
            3,
            100,
            100,
            at(KernelBuffer::Z, 0),
        ),
        spec::loss_rows(PairSet::Train, 66, 11, 0, true, None),
        spec::loss_rows(
            PairSet::Train,
            66,
            11,
            0,
            true,
            Some((at(KernelBuffer::SplitK, 0), 2, 726)),
        ),
        spec::reduce2(
            at(KernelBuffer::Partial, 0),
            at(KernelBuffer::Partial, OPT_BLOCKS),
            OPT_BLOCKS,
            at(KernelBuffer::Stats, 2),
        ),
        spec::scatter_first(0, 40, 11, at(KernelBuffer::Grads, 0)),
        spec::sgd_step(880, 0.1, 0.0),
        spec::adamw_step(880, adam),
    ];
    for l in [&lay, &small] {
        for c in [l.logits_gemm(l.train.0), l.grad_out_gemm(), l.grad_h_gemm()] {
            specs.push(spec::gemm(&c));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for s in &specs {
        s.check(&params)
            .unwrap_or_else(|e| panic!("{}: {e}", s.kernel));
        seen.insert(s.kernel);
    }
    assert_eq!(
        seen.len(),
        params.len(),
        "a kernel without a launch: {seen:?}"
    );
    // The check itself fails on a wrong argument list.
    let mut bad = spec::sgd_step(880, 0.1, 0.0);
    bad.args.swap(2, 3); // n (i64) <-> lr (f32)
    assert!(bad.check(&params).is_err());
    bad.args.truncate(4);
    assert!(bad.check(&params).is_err());
    assert!(matches!(
        spec::reduce2(
            at(KernelBuffer::Partial, 0),
            at(KernelBuffer::Partial, 1),
            1,
            at(KernelBuffer::Stats, 0)
        )
        .args[4],
        Arg::I32(0)
    ));
}

/// The observer-facing split of a step (measure, then update) and the correctness grid agree
/// between the CPU backend and the kernels' CPU twin (the numerical specification of the GPU
/// step): same pre-update statistics, same grid, same weights after the update (f32 tolerance
/// of the other parity tests).
#[test]
fn twin_measure_update_and_grid_match_cpu() {
    const TOL: f64 = 1e-5;
    let p = 13;
    let split = Split::seeded(p, Task::Add, 0.6, 4).unwrap();
    let net = Network::<f32>::init(p, 40, Init::Random { scale: 1.0 }, Tying::Tied, 9).unwrap();
    let sizes: Vec<usize> = net.param_slices().iter().map(|s| s.len()).collect();
    let opt = || OptimizerConfig::adamw(0.1).build::<f32>(&sizes).unwrap();
    let mut cpu = CpuBackend::new(net.clone(), Activation::Relu, Loss::CeMean, &split, opt());
    let mut tw = CudaTwin::new(net, Activation::Relu, Loss::CeMean, &split, opt()).unwrap();
    for _ in 0..3 {
        let (ec, et) = (cpu.eval_test().unwrap(), tw.eval_test().unwrap());
        assert!((ec.loss - et.loss).abs() <= TOL * ec.loss);
        let (sc, st) = (cpu.measure(), tw.measure());
        assert!((sc.train.loss - st.train.loss).abs() <= TOL * sc.train.loss);
        assert_eq!(sc.train.accuracy, st.train.accuracy);
        assert!((sc.grad_norm - st.grad_norm).abs() <= TOL * sc.grad_norm);
        assert!((sc.param_norm - st.param_norm).abs() <= TOL * sc.param_norm);
        let (mut gc, mut gt) = (Vec::new(), Vec::new());
        cpu.correct_grid(&mut gc);
        tw.correct_grid(&mut gt);
        assert_eq!(gc, gt);
        cpu.update(1e-2);
        tw.update(1e-2);
        let (nc, nt) = (cpu.network(), tw.network());
        let diff = (&nc.w_in - &nt.w_in)
            .amax()
            .max((&nc.w_out - &nt.w_out).amax());
        assert!(
            diff as f64 <= TOL * nc.w_in.amax() as f64,
            "weights differ by {diff}"
        );
    }
}
