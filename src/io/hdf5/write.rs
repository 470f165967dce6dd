//! `to_hdf5`.
