//! The [`Trainer`]: one epoch at a time (measure, observe, update), apart from the loop that
//! writes files.

use crate::backend::cpu::CpuBackend;
use crate::backend::cuda::CudaBackend;
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::numerics::network::Network;
use crate::numerics::optim::Optimizer;
use crate::numerics::real::Real;
use crate::numerics::task::Split;
use crate::train::config::TrainConfig;
use crate::train::plateau::Plateau;
use crate::train::record::EpochRecord;

/// Drives a backend epoch by epoch (one step apart from the loop that writes files).
pub struct Trainer<T: Real, B: Backend<T>> {
    /// The configuration.
    pub config: TrainConfig,
    /// The backend holding the state.
    pub backend: B,
    /// The next epoch to run.
    pub epoch: usize,
    plateau: Plateau,
    last: Option<EpochRecord>,
    _t: std::marker::PhantomData<T>,
}

impl<T: Real> Trainer<T, CpuBackend<T>> {
    /// A CPU trainer for `config` on `split`, from the configured initial weights.
    pub fn cpu(config: &TrainConfig, split: &Split) -> Result<Self> {
        config.validate()?;
        Self::cpu_from(config, split, config.initial_network()?)
    }

    /// A CPU trainer for `config` on `split`, from the weights `net`.
    pub fn cpu_from(config: &TrainConfig, split: &Split, net: Network<T>) -> Result<Self> {
        Self::build(config, net, |net, opt| {
            Ok(CpuBackend::new(
                net,
                config.activation,
                config.loss,
                split,
                opt,
            ))
        })
    }
}

impl Trainer<f32, CudaBackend> {
    /// A CUDA trainer (f32) for `config` on `split`, from the configured initial weights.
    ///
    /// # Errors
    /// [`Error::BackendUnavailable`] when the build has no `cuda` feature or no device is
    /// present, besides the configuration errors of [`Trainer::cpu`].
    pub fn cuda(config: &TrainConfig, split: &Split) -> Result<Self> {
        config.validate()?;
        Self::cuda_from(config, split, config.initial_network()?)
    }

    /// A CUDA trainer for `config` on `split`, from the weights `net` (errors as
    /// [`Trainer::cuda`]).
    pub fn cuda_from(config: &TrainConfig, split: &Split, net: Network<f32>) -> Result<Self> {
        Self::build(config, net, |net, opt| {
            CudaBackend::new(net, config.activation, config.loss, split, opt)
        })
    }
}

impl<T: Real, B: Backend<T>> Trainer<T, B> {
    /// Validates `config`, builds its optimiser for `net`'s tensors and the backend `make`
    /// returns for them.
    fn build(
        config: &TrainConfig,
        net: Network<T>,
        make: impl FnOnce(Network<T>, Optimizer<T>) -> Result<B>,
    ) -> Result<Self> {
        config.validate()?;
        let sizes: Vec<usize> = net.param_slices().iter().map(|s| s.len()).collect();
        let opt = config.optimizer.build::<T>(&sizes)?;
        Ok(Trainer::with_backend(config.clone(), make(net, opt)?))
    }

    /// A trainer around an already built backend, starting at epoch 0.
    pub fn with_backend(config: TrainConfig, backend: B) -> Self {
        Trainer {
            config,
            backend,
            epoch: 0,
            plateau: Plateau::default(),
            last: None,
            _t: std::marker::PhantomData,
        }
    }

    /// Runs one epoch: measure (test, then train with the gradient), update. Returns the
    /// record, or [`Error::Diverged`] if the training loss, gradient norm or parameter norm is
    /// not finite; the update is then not applied (the record is still available from
    /// [`Trainer::last_record`]).
    pub fn next_epoch(&mut self) -> Result<EpochRecord> {
        self.next_epoch_with(|_, _| Ok(()))
    }

    /// Like [`Trainer::next_epoch`], calling `observe` with the record and the backend after
    /// the measurements and before the update, so observers see the weights the record
    /// describes.
    pub fn next_epoch_with<F>(&mut self, mut observe: F) -> Result<EpochRecord>
    where
        F: FnMut(&EpochRecord, &B) -> Result<()>,
    {
        let e = self.epoch;
        let lr = self.config.schedule.lr(self.config.lr, e as u64);
        let test = self.backend.eval_test();
        let stats = self.backend.measure();
        let test = test.unwrap_or(stats.train);
        let rec = EpochRecord {
            epoch: e,
            lr,
            train_loss: stats.train.loss,
            train_acc: stats.train.accuracy,
            test_loss: test.loss,
            test_acc: test.accuracy,
            grad_norm: stats.grad_norm,
            param_norm: stats.param_norm,
        };
        self.last = Some(rec);
        for (what, value) in [
            ("train loss", rec.train_loss),
            ("gradient norm", rec.grad_norm),
            ("parameter norm", rec.param_norm),
        ] {
            if !value.is_finite() {
                return Err(Error::Diverged {
                    epoch: e,
                    what,
                    value,
                });
            }
        }
        observe(&rec, &self.backend)?;
        self.backend.update(T::of(lr));
        self.epoch += 1;
        self.plateau.push(rec);
        Ok(rec)
    }

    /// The record of the last epoch run, also when it diverged.
    pub fn last_record(&self) -> Option<EpochRecord> {
        self.last
    }

    /// True when the run should end after the epoch just taken (epoch count or plateau).
    pub fn finished(&self) -> bool {
        self.epoch >= self.config.epochs
            || (self.config.plateau_stop && self.epoch > 0 && self.plateau.stop_at(self.epoch - 1))
    }

    /// Feeds already logged records (resuming) to the plateau detector.
    pub fn replay(&mut self, records: &[EpochRecord]) {
        for r in records {
            self.plateau.push(*r);
        }
    }
}
