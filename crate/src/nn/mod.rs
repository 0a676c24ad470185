//! Layers, losses, optimisers, initialisers and the random generator they share.

pub mod rng;
