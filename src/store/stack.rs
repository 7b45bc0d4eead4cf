//! Several operators as one rank-5 array, for consumers that insist on one.

use ndarray::{Array5, ArrayView5, ShapeBuilder};

use super::OperatorFile;
use crate::error::Result;
use crate::map::{StackedMap, page_size};
use crate::npy::Order;

/// Operators of several points as one array `[point, pid_out, x_out, pid_in, x_in]`.
///
/// **Zero copy** when every file's data starts at a page boundary (libeko writes data
/// page-aligned) and all files share one memory order: each file's data is mapped into one
/// reserved address range, one slot per point, and the view strides over the slots. Nothing is
/// read until touched.
///
/// **Otherwise a copy**: an owned array of `points × n_pid² × n_x² × 8` bytes (3.9 MB per point at
/// 14 flavours and 50 x points, 15.7 MB at 100), filled file by file.
#[derive(Debug)]
pub struct Stack {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Mapped {
        map: StackedMap,
        shape: [usize; 5],
        strides: [usize; 5],
    },
    Copied(Array5<f64>),
}

impl Stack {
    pub(super) fn new(files: &[OperatorFile], shape: [usize; 4]) -> Result<Stack> {
        let page = page_size();
        let orders: Vec<Order> = files.iter().map(|f| f.npy().header().order).collect();
        let aligned = files
            .iter()
            .all(|f| f.npy().header().data_offset.is_multiple_of(page));
        let one_order = orders.windows(2).all(|w| w[0] == w[1]);
        let full = [files.len(), shape[0], shape[1], shape[2], shape[3]];
        if aligned && one_order && !files.is_empty() {
            let len = files[0].npy().header().data_len();
            let stride = len.next_multiple_of(page).max(page);
            let paths: Vec<_> = files
                .iter()
                .map(|f| (f.path(), f.npy().header().data_offset as u64))
                .collect();
            let map = StackedMap::new(&paths, len, stride)?;
            let [a, b, c, d] = shape;
            let inner = match orders[0] {
                Order::C => [b * c * d, c * d, d, 1],
                Order::Fortran => [1, a, a * b, a * b * c],
            };
            let strides = [stride / 8, inner[0], inner[1], inner[2], inner[3]];
            return Ok(Stack {
                inner: Inner::Mapped {
                    map,
                    shape: full,
                    strides,
                },
            });
        }
        let mut out = Array5::<f64>::zeros(full);
        for (mut slot, file) in out.outer_iter_mut().zip(files) {
            slot.assign(&file.view());
        }
        Ok(Stack {
            inner: Inner::Copied(out),
        })
    }

    /// The rank-5 view.
    pub fn view(&self) -> ArrayView5<'_, f64> {
        match &self.inner {
            Inner::Mapped {
                map,
                shape,
                strides,
            } => {
                let values: &[f64] = bytemuck::cast_slice(map.bytes());
                ArrayView5::from_shape((*shape).strides(*strides), values)
                    .expect("slots lie inside the region")
            }
            Inner::Copied(a) => a.view(),
        }
    }

    /// Whether the view maps the files directly.
    pub fn is_zero_copy(&self) -> bool {
        matches!(self.inner, Inner::Mapped { .. })
    }
}
