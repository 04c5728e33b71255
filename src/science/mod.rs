//! The science: Fourier analysis, the mechanism (Proposition 1), the decoupled dynamics and the
//! lottery ticket, grokking's measures and stages, Gromov's untied system, and the analysis that
//! gathers every measure of one network.
//!
//! | file | concept |
//! |---|---|
//! | [`fourier`] | DFT conventions, spectra, dominant frequency, D, IPR, phase moments, harmonics |
//! | [`mechanism`] | Proposition 1's closed form, the phase condition, margins, activation swaps, logits |
//! | [`dynamics`] | the decoupled ODE, its simulators, the lottery predictors and contour |
//! | [`grokking`] | pair classes, stages, the spectral probe and the run recorder |
//! | [`gromov`] | Gromov's closed-form periodic solution and its comparison with learned weights |
//! | [`analysis`] | every measure of one network, gathered and written as tidy CSV |
//! | [`bounds`] | measured bounds of the claims at fixed settings, shared by tests and `verify` |
//! | [`theory`] | documentation only: the derivation of the ODE |

pub mod analysis;
pub mod bounds;
pub mod dynamics;
pub mod fourier;
pub mod grokking;
pub mod gromov;
pub mod mechanism;
pub mod theory;
