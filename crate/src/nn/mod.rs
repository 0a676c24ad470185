//! Layers, losses, optimisers, initialisers and the random generator they share.

pub mod init;
pub mod optim;
pub mod rng;
