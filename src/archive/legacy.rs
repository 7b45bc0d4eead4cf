//! The older archive layouts: eko 0.13 and 0.14 (`data_version: 1`, the grids under `bases`) and
//! eko 0.8 (one rank-5 array per kind in a directory of its own, no nf recorded).

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use serde_json::Value;

use crate::error::{IoContext, Location, Result};
use crate::store::{EVOLUTION_BASIS, FLAVOR_BASIS, Side};

use super::bad;
use super::stream::{Decoded, Limited, check_header, read_npy_header, read_values};

/// An x grid as older ekos write it: a list, or eko's `XGrid` dump `{grid, log}`; `None` for
/// `null` (the side was not reshaped).
fn grid(value: Option<&Value>, name: &str, at: &Location) -> Result<Option<Vec<f64>>> {
    let list = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(o)) => o.get("grid"),
        Some(other) => Some(other),
    };
    let list = list
        .and_then(Value::as_array)
        .ok_or_else(|| bad(at, format!("'{name}' must be a list of numbers")))?;
    list.iter()
        .map(|v| {
            v.as_f64()
                .ok_or_else(|| bad(at, format!("{name} value {v} is not a number")))
        })
        .collect::<Result<Vec<f64>>>()
        .map(Some)
}

/// Pids as older ekos write them: `null` (eko's flavour basis), a list of pids, or (eko 0.13 and
/// 0.14's `to_evol`) the rotation matrix itself.
fn pids(value: Option<&Value>, name: &str, at: &Location) -> Result<Option<Vec<i32>>> {
    let list = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(list)) => list,
        Some(other) => return Err(bad(at, format!("'{name}' is {other}, not a list of pids"))),
    };
    if list.iter().all(Value::is_array) {
        let rows: Vec<Vec<f64>> = list
            .iter()
            .map(|row| {
                row.as_array()
                    .expect("checked")
                    .iter()
                    .map(Value::as_f64)
                    .collect::<Option<Vec<f64>>>()
            })
            .collect::<Option<_>>()
            .ok_or_else(|| bad(at, format!("'{name}' is a matrix with a non-number")))?;
        let evolution = crate::transform::evolution_rotation();
        let same = |m: &dyn Fn(usize, usize) -> f64| {
            rows.len() == 14
                && rows
                    .iter()
                    .enumerate()
                    .all(|(r, row)| row.len() == 14 && (0..14).all(|c| row[c] == m(r, c)))
        };
        if same(&|r, c| evolution[r][c]) {
            return Ok(Some(EVOLUTION_BASIS.to_vec()));
        }
        if same(&|r, c| if r == c { 1.0 } else { 0.0 }) {
            return Ok(Some(FLAVOR_BASIS.to_vec()));
        }
        return Err(bad(
            at,
            format!(
                "'{name}' is a {}-row rotation matrix that is neither eko's evolution basis nor \
                 the identity: libeko cannot name the pids of that side",
                rows.len()
            ),
        ));
    }
    let pids = list
        .iter()
        .map(|v| v.as_i64().and_then(|p| i32::try_from(p).ok()))
        .collect::<Option<Vec<i32>>>()
        .ok_or_else(|| bad(at, format!("'{name}' must be a list of integer pids")))?;
    if !pids.is_empty() && pids.iter().all(|p| *p == 0) {
        return Err(bad(
            at,
            format!(
                "'{name}' is all 0: eko rotated that side with a matrix it did not record \
                 (flavor_reshape), so its pids are unknown and libeko will not guess them"
            ),
        ));
    }
    Ok(Some(pids))
}

/// The computed x grid and the operators' sides of an older eko's metadata: `grids` is the
/// mapping holding `xgrid` (`bases` for eko 0.13 and 0.14, the metadata itself for 0.8, whose
/// grid is `interpolation_xgrid`).
pub(super) fn grids_and_sides(
    grids: &Value,
    xgrid_key: &str,
    at: &Location,
) -> Result<(Vec<f64>, Side, Side)> {
    let xgrid = grid(grids.get(xgrid_key), xgrid_key, at)?
        .ok_or_else(|| bad(at, format!("no '{xgrid_key}' list")))?;
    let side = |grid_key: &str, pids_key: &str| -> Result<Side> {
        let side_grid = grid(grids.get(grid_key), grid_key, at)?;
        let side_pids = pids(grids.get(pids_key), pids_key, at)?;
        Ok(Side {
            xgrid: side_grid.unwrap_or_else(|| xgrid.clone()),
            pids: side_pids.unwrap_or_else(|| FLAVOR_BASIS.to_vec()),
        })
    };
    let output = side("targetgrid", "targetpids")?;
    let input = side("inputgrid", "inputpids")?;
    Ok((xgrid, output, input))
}

/// A member of an eko 0.8 archive: where its data is in the tar file.
#[derive(Debug, Clone)]
pub(super) struct Member {
    pub name: String,
    pub offset: u64,
    pub size: u64,
}

/// Opens one rank-5 array of an eko 0.8 archive as a stream positioned at its data, checking
/// its header: `(n_points, shape...)` float64, C order.
fn open_rank5(
    archive: &Path,
    member: &Member,
    count: usize,
    shape: [usize; 4],
    limit: u64,
) -> Result<(Limited<impl Read>, crate::npy::ByteOrder, Location)> {
    let at = Location::member(archive, member.name.clone());
    let mut file = std::fs::File::open(archive).io_context(&Location::file(archive), "open")?;
    file.seek(SeekFrom::Start(member.offset))
        .io_context(&Location::file(archive), "seek")?;
    let decoder = lz4_flex::frame::FrameDecoder::new(file.take(member.size));
    let mut r = Limited::new(decoder, limit);
    let header = read_npy_header(&mut r, &at, limit)?;
    let mut want = vec![count];
    want.extend_from_slice(&shape);
    check_header(&header, &want, "the rank-5 array", &at)?;
    if header.order == crate::npy::Order::Fortran && count > 1 {
        return Err(bad(
            &at,
            "a Fortran-order rank-5 array: eko 0.8 writes C order, one operator after the other",
        ));
    }
    Ok((r, header.dtype.byte_order, at))
}

/// Streams the operators (and errors) of an eko 0.8 archive, one point at a time, into `send`
/// (which returns false to stop). `recycle` gives back buffers.
pub(super) fn stream_rank5(
    archive: &Path,
    operators: &Member,
    errors: Option<&Member>,
    count: usize,
    shape: [usize; 4],
    mut next_buffer: impl FnMut() -> Decoded,
    mut send: impl FnMut(Result<Decoded>) -> bool,
) -> Result<()> {
    let values: usize = shape.iter().product();
    let limit = (8 * values as u64 + (1 << 16)).saturating_mul(count as u64);
    let (mut ops, op_order, op_at) = open_rank5(archive, operators, count, shape, limit)?;
    let mut errs = errors
        .map(|m| open_rank5(archive, m, count, shape, limit))
        .transpose()?;
    for _ in 0..count {
        let mut out = next_buffer();
        read_values(
            &mut ops,
            &mut out.operator.data,
            values,
            op_order,
            &op_at,
            limit,
        )?;
        out.operator.shape = shape;
        out.operator.fortran = false;
        out.error = match errs.as_mut() {
            Some((r, order, at)) => {
                let mut error = out.error.take().unwrap_or_default();
                read_values(r, &mut error.data, values, *order, at, limit)?;
                error.shape = shape;
                error.fortran = false;
                Some(error)
            }
            None => None,
        };
        out.bytes = 8 * values as u64 * if out.error.is_some() { 2 } else { 1 };
        if !send(Ok(out)) {
            return Ok(());
        }
    }
    // The frames' ends: checks them.
    for (r, at) in
        std::iter::once((&mut ops, &op_at)).chain(errs.as_mut().map(|(r, _, at)| (r, &*at)))
    {
        std::io::copy(r, &mut std::io::sink())
            .map_err(|e| super::stream::stream_error(at, limit, e))?;
    }
    Ok(())
}
