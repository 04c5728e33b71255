//! Throughput of the decoupled ODE: every (neuron, frequency) pair of a p = 23, M = 512 network
//! (512 x 11 = 5632 four-variable systems), integrated with Dop853 on one core.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use modadd::numerics::init::Init;
use modadd::numerics::network::{Network, Tying};
use modadd::science::dynamics::lottery::{frequency_states, predict_lottery, LotteryOptions};
use modadd::science::dynamics::ode::{integrate, OdeOptions};
use modadd::science::dynamics::TimeScale;

fn bench_ode(c: &mut Criterion) {
    let (p, width) = (23, 512);
    let net: Network<f64> =
        Network::init(p, width, Init::Random { scale: 0.1 }, Tying::Tied, 42).unwrap();
    let states: Vec<_> = (0..width).flat_map(|m| frequency_states(&net, m)).collect();
    let rate = TimeScale::Sum.rate(p);
    // Horizon: the summed-loss time by which the median neuron's winner has finished (~2.6).
    let horizon = 2.5;
    let mut g = c.benchmark_group("ode");
    g.sample_size(10);
    g.throughput(Throughput::Elements(states.len() as u64));
    for (name, rtol) in [("rtol1e-8", 1e-8), ("rtol1e-11", 1e-11)] {
        let opts = OdeOptions {
            rtol,
            atol: 1e-14,
            cap: 1e3,
            fixed_step: None,
        };
        g.bench_function(format!("integrate_all_pairs_p23_m512_{name}_cpu"), |b| {
            b.iter(|| {
                let mut s = 0.0;
                for st in &states {
                    let tr = integrate(*st, rate, &[0.0, horizon], &opts).unwrap();
                    s += tr.points.last().unwrap().1.alpha;
                }
                s
            })
        });
    }
    g.bench_function("lottery_race_p23_m512_cpu", |b| {
        b.iter(|| {
            predict_lottery(&net, TimeScale::Sum, &LotteryOptions::default())
                .unwrap()
                .len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench_ode);
criterion_main!(benches);
