//! Train a small ReLU network on modular addition, then read its Fourier features.
//!
//! `cargo run --release --example train_and_analyze`

use modadd::backend::Backend;
use modadd::science::analysis::analyze;
use modadd::train::config::TrainConfig;
use modadd::train::trainer::Trainer;

fn main() -> modadd::Result<()> {
    // The `standard` preset at p = 13, narrower and with a larger learning rate so it takes a second.
    let mut cfg = TrainConfig::preset("standard", 13)?;
    cfg.width = 128;
    cfg.lr = 1e-3;
    cfg.epochs = 1500;
    let split = cfg.split()?;
    let mut trainer = Trainer::<f32, _>::cpu(&cfg, &split)?;
    while trainer.epoch < cfg.epochs {
        let r = trainer.next_epoch()?;
        if r.epoch % 300 == 0 {
            println!(
                "epoch {:4}: loss {:.4} accuracy {:.3}",
                r.epoch, r.train_loss, r.train_acc
            );
        }
    }
    let net = trainer.backend.network().cast::<f64>();
    let a = analyze(&net, cfg.activation);
    for (name, value, what) in a.summary().metrics {
        println!("{name:>24} = {value:<12.6} {what}");
    }
    Ok(())
}
