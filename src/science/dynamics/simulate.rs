//! The simulators the ODE is checked against: one neuron's full weight vectors under the exact
//! uniform-softmax gradient flow, and the real network under full-batch gradient descent.

use crate::error::{Error, Result};
use crate::numerics::activation::Activation;
use crate::numerics::loss::Loss;
use crate::numerics::network::Network;
use crate::numerics::optim::OptimizerConfig;
use crate::numerics::task::{Split, Task};
use crate::science::dynamics::ode::{integration_error, snap_end, OdeOptions, Trajectory};
use crate::science::dynamics::{FreqState, TimeScale};
use crate::science::fourier::spectrum;
use ode_solvers::dop853::Dop853;
use ode_solvers::{DVector, OutputType, Rk4, System};
use std::f64::consts::PI;
/// The uniform-softmax gradient-flow velocity of one neuron, written into `d_theta`, `d_xi`.
///
/// Computed pair by pair from the chain rule with `dL/dz_(x,y),j = s (1/p - 1{j = (x+y) mod p})`
/// over all p^2 ordered pairs (`s` = [`TimeScale::gradient_factor`]):
/// ```text
/// h = theta[x] + theta[y],  g = sum_j dL/dz_j xi[j] = s (mean(xi) - xi[(x+y) mod p])
/// dL/dxi[j]      += s (1/p - 1{j = x+y}) sigma(h)
/// dL/dtheta[x]   += g sigma'(h),   dL/dtheta[y] += g sigma'(h)
/// ```
/// and the velocity is minus the gradient. No Fourier algebra is used, so this is an
/// independent check of the ODE.
pub fn uniform_softmax_velocity(
    theta: &[f64],
    xi: &[f64],
    act: Activation,
    s: f64,
    d_theta: &mut [f64],
    d_xi: &mut [f64],
) {
    let p = theta.len();
    let mean_xi = xi.iter().sum::<f64>() / p as f64;
    d_theta.iter_mut().for_each(|v| *v = 0.0);
    d_xi.iter_mut().for_each(|v| *v = 0.0);
    let mut total = 0.0;
    for x in 0..p {
        for y in 0..p {
            let l = (x + y) % p;
            let h = theta[x] + theta[y];
            let a = act.value(h);
            total += a;
            // -dL/dxi[l] gets +s a from the -1{j = l} term.
            d_xi[l] += s * a;
            let g = s * (mean_xi - xi[l]) * act.deriv(h);
            d_theta[x] -= g;
            d_theta[y] -= g;
        }
    }
    // The 1/p term of every output: -s sigma(h) / p summed over pairs.
    let common = s * total / p as f64;
    d_xi.iter_mut().for_each(|v| *v -= common);
}

/// A neuron's weights at one time.
#[derive(Clone, Debug, PartialEq)]
pub struct Neuron {
    /// Input weights theta (length p).
    pub theta: Vec<f64>,
    /// Output weights xi (length p).
    pub xi: Vec<f64>,
}

struct NeuronSystem {
    p: usize,
    act: Activation,
    s: f64,
}

impl System<f64, DVector<f64>> for NeuronSystem {
    fn system(&self, _t: f64, y: &DVector<f64>, dy: &mut DVector<f64>) {
        let p = self.p;
        let (theta, xi) = y.as_slice().split_at(p);
        let (dt, dx) = dy.as_mut_slice().split_at_mut(p);
        uniform_softmax_velocity(theta, xi, self.act, self.s, dt, dx);
    }
}

/// Integrates one neuron's full weight vectors under the uniform-softmax gradient flow
/// ([`uniform_softmax_velocity`]) with Dop853, returning the weights at `times`.
pub fn simulate_decoupled(
    start: &Neuron,
    act: Activation,
    scale: TimeScale,
    times: &[f64],
    opts: &OdeOptions,
) -> Result<Trajectory<Neuron>> {
    let p = start.theta.len();
    crate::numerics::task::check_modulus(p)?;
    if start.xi.len() != p {
        return Err(Error::Shape {
            what: "xi".into(),
            found: start.xi.len().to_string(),
            expected: format!("p = {p} (the length of theta)"),
        });
    }
    let sys_s = scale.gradient_factor(p);
    let mut y = DVector::from_iterator(2 * p, start.theta.iter().chain(&start.xi).copied());
    let mut points = vec![(times.first().copied().unwrap_or(0.0), start.clone())];
    for w in times.windows(2) {
        let (t0, t1) = (w[0], w[1]);
        if t1 <= t0 {
            return Err(Error::InvalidParameter {
                name: "output time",
                value: t1,
                expected: "strictly increasing output times",
            });
        }
        let sys = NeuronSystem { p, act, s: sys_s };
        let t = if let Some(h) = opts.fixed_step {
            crate::error::positive("fixed step", h)?;
            let n = ((t1 - t0) / h).ceil().max(1.0);
            let mut solver = Rk4::new(sys, t0, y.clone(), t1, (t1 - t0) / n);
            solver.integrate().map_err(integration_error)?;
            y = solver
                .y_out()
                .last()
                .expect("initial point is always stored")
                .clone();
            t1
        } else {
            let mut solver = Dop853::new(sys, t0, t1, t1 - t0, y.clone(), opts.rtol, opts.atol);
            solver.set_output(OutputType::Sparse);
            solver.integrate().map_err(integration_error)?;
            y = solver
                .y_out()
                .last()
                .expect("initial point is always stored")
                .clone();
            snap_end(
                *solver
                    .x_out()
                    .last()
                    .expect("initial point is always stored"),
                t1,
            )
        };
        points.push((
            t,
            Neuron {
                theta: y.as_slice()[..p].to_vec(),
                xi: y.as_slice()[p..].to_vec(),
            },
        ));
        if y.iter().any(|v| v.abs() > opts.cap) {
            return Ok(Trajectory {
                points,
                capped_at: Some(t),
            });
        }
    }
    Ok(Trajectory {
        points,
        capped_at: None,
    })
}

/// Trains the real tied network on all p^2 pairs by full-batch SGD (no momentum, no weight
/// decay, constant learning rate `lr`, f64), returning the network after every `every` steps
/// (step 0 included) up to `steps`. Step n corresponds to time `n * lr` of the loss's flow.
pub fn gradient_descent(
    net: &Network<f64>,
    act: Activation,
    loss: Loss,
    lr: f64,
    steps: usize,
    every: usize,
) -> Result<Vec<(usize, Network<f64>)>> {
    use crate::backend::cpu::CpuBackend;
    use crate::backend::Backend;
    crate::error::positive("learning rate", lr)?;
    let every = every.max(1);
    let split = Split::seeded(net.p, Task::Add, 1.0, 0)?;
    let opt = OptimizerConfig::Sgd { weight_decay: 0.0 }.build::<f64>(&[])?;
    let mut b = CpuBackend::new(net.clone(), act, loss, &split, opt);
    let mut out = vec![(0, net.clone())];
    for n in 1..=steps {
        let st = b.step(lr);
        if !st.train.loss.is_finite() {
            return Err(Error::Diverged {
                epoch: n,
                what: "training loss",
                value: st.train.loss,
            });
        }
        if n % every == 0 || n == steps {
            out.push((n, b.network()));
        }
    }
    Ok(out)
}

/// Neuron m's weights `(theta_m, xi_m)` as f64 vectors.
pub fn neuron(net: &Network<f64>, m: usize) -> Neuron {
    Neuron {
        theta: net.w_in.row(m).iter().copied().collect(),
        xi: net.w_out.column(m).iter().copied().collect(),
    }
}

/// Squared magnitudes `alpha_k^2` (input) and `beta_k^2` (output), k = 1..K, of a neuron.
pub fn energies(n: &Neuron) -> (Vec<f64>, Vec<f64>) {
    let a = spectrum(&n.theta);
    let b = spectrum(&n.xi);
    (
        a.components
            .iter()
            .map(|c| c.magnitude * c.magnitude)
            .collect(),
        b.components
            .iter()
            .map(|c| c.magnitude * c.magnitude)
            .collect(),
    )
}

/// Largest absolute value of the softmax's departure from uniform over all pairs:
/// `max_(x,y),j |softmax(f(x,y))_j - 1/p|`.
pub fn softmax_departure(net: &Network<f64>, act: Activation) -> f64 {
    let p = net.p;
    let pairs = crate::numerics::task::all_pairs(p, Task::Add);
    let z = crate::numerics::grad::logits_table(net, act, &pairs);
    let mut worst: f64 = 0.0;
    for row in z.chunks(p) {
        let mx = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = row.iter().map(|v| (v - mx).exp()).collect();
        let tot: f64 = e.iter().sum();
        for v in e {
            worst = worst.max((v / tot - 1.0 / p as f64).abs());
        }
    }
    worst
}

/// The rates `(d alpha_k, d beta_k, d phi_k, d psi_k)/dt` of frequency k implied by weight
/// velocities `(d_theta, d_xi)` at weights `(theta, xi)`.
///
/// With `c_k = sum_j v[j] cos(w_k j)`, `s_k = sum_j v[j] sin(w_k j)` (linear in v, so their rates
/// are the same sums of the velocity), `alpha = (2/p) sqrt(c^2 + s^2)` and `phi = atan2(-s, c)`:
/// ```text
/// d alpha/dt = (2/p) (c dc + s ds) / sqrt(c^2 + s^2)
/// d phi/dt   = (s dc - c ds) / (c^2 + s^2)
/// ```
/// and likewise for (beta, psi) from `xi`.
pub fn project_rate(n: &Neuron, d_theta: &[f64], d_xi: &[f64], k: usize) -> FreqState {
    let p = n.theta.len() as f64;
    let one = |v: &[f64], dv: &[f64]| {
        let a = spectrum(v).components[k - 1];
        let d = spectrum(dv).components[k - 1];
        let (c, s, dc, ds) = (a.cos_sum, a.sin_sum, d.cos_sum, d.sin_sum);
        let r2 = c * c + s * s;
        (
            (2.0 / p) * (c * dc + s * ds) / r2.sqrt(),
            (s * dc - c * ds) / r2,
        )
    };
    let (da, dphi) = one(&n.theta, d_theta);
    let (db, dpsi) = one(&n.xi, d_xi);
    FreqState::new(da, db, dphi, dpsi)
}

/// A neuron holding one frequency k: `theta[j] = s.alpha cos(w_k j + s.phi)`,
/// `xi[j] = s.beta cos(w_k j + s.psi)`, `w_k = 2 pi k / p`.
pub fn single_frequency_neuron(p: usize, k: usize, s: &FreqState) -> Neuron {
    // k j is reduced mod p first so the angle stays small and exact.
    Neuron {
        theta: (0..p)
            .map(|j| s.alpha * (2.0 * PI * ((k * j) % p) as f64 / p as f64 + s.phi).cos())
            .collect(),
        xi: (0..p)
            .map(|j| s.beta * (2.0 * PI * ((k * j) % p) as f64 / p as f64 + s.psi).cos())
            .collect(),
    }
}
