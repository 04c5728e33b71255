//! Proposition 1 by hand: build the diversified Quad network and compare its logits with the
//! closed form `(a N / 2) [-1 + (p/2) 1{x+y=j} + (p/4)(1{2x=j} + 1{2y=j})]`, a = alpha^2 beta.
//!
//! `cargo run --release --example proposition1`

use modadd::numerics::activation::Activation;
use modadd::numerics::init::random_phase_offsets;
use modadd::numerics::network::Network;
use modadd::science::mechanism::{
    paper_printed_constant, proposition1_constant, proposition1_logits,
};

fn main() -> modadd::Result<()> {
    let (p, n, alpha, beta) = (23, 3, 0.7, 2.0);
    let net =
        Network::<f64>::diversified(p, n, alpha, beta, &random_phase_offsets((p - 1) / 2, 1))?;
    let (x, y) = (3, 7);
    let z = net.logits(Activation::Quad, x, y);
    let closed = proposition1_logits(p, n, alpha, beta, x, y);
    let unit = proposition1_constant(alpha, beta) * n as f64 / 2.0;
    println!("p = {p}, N = {n}, alpha = {alpha}, beta = {beta}, (x, y) = ({x}, {y})");
    println!(" j   logit        closed form  in units of aN/2");
    for j in 0..p {
        println!(
            "{j:2}  {:11.6}  {:11.6}  {:6.2}",
            z[j],
            closed[j],
            z[j] / unit
        );
    }
    println!(
        "a = alpha^2 beta = {}; the paper prints alpha beta^2 = {}",
        proposition1_constant(alpha, beta),
        paper_printed_constant(alpha, beta)
    );
    Ok(())
}
