//! Combine: joining partial operators and threshold operators into final operators.

mod kernel;

pub use kernel::{Kernel, Right, Target};
