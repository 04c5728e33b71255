//! The lottery race inside one neuron: integrate the decoupled ODE for every frequency of a
//! randomly initialised neuron and see which one wins, against the paper's
//! smallest-misalignment rule.
//!
//! `cargo run --release --example ode_race`

use modadd::numerics::init::Init;
use modadd::numerics::network::{Network, Tying};
use modadd::science::dynamics::lottery::{frequency_states, predict_lottery, LotteryOptions};
use modadd::science::dynamics::TimeScale;

fn main() -> modadd::Result<()> {
    let p = 23;
    let net = Network::<f64>::init(p, 4, Init::Random { scale: 0.1 }, Tying::Tied, 42)?;
    let preds = predict_lottery(&net, TimeScale::Mean, &LotteryOptions::default())?;
    for (m, pred) in preds.iter().enumerate() {
        println!("neuron {m}: {pred:?}");
        for (k, s) in frequency_states(&net, m).iter().enumerate() {
            println!(
                "  k = {:2}: alpha {:.4} beta {:.4} D {:+.3}",
                k + 1,
                s.alpha,
                s.beta,
                s.misalignment()
            );
        }
    }
    Ok(())
}
