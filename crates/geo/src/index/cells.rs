//! The cell grid behind [`TerritoryIndex`](super::TerritoryIndex).
//!
//! A uniform grid over the box of all units. Building runs the descent that
//! defines the answer (see the parent module) once per cell instead of once
//! per query, classifying each unit against the whole cell:
//!
//! - *outside*: no point of the cell is in the unit;
//! - *inside*: no edge of the unit touches the cell and a point of the cell
//!   is in it, so every point of the cell is (and none is on its boundary);
//! - *crossing*: some edge of the unit touches the cell.
//!
//! Descending with these classes, a child that is inside is taken for every
//! point of the cell (the earlier siblings were outside) and its later
//! siblings can never be reached. So most cells resolve to one unit, stored
//! directly. The others are *mixed*: they keep, in descent order, the units
//! that may still be taken — crossing ones with their edges that touch the
//! cell, inside ones as they are — and the query replays the descent over
//! that list, testing crossing units with [`cell_contains`]. Each entry
//! knows where its subtree ends, so a unit that does not contain the point
//! skips its descendants and one that does skips its later siblings.
//!
//! A mixed cell is one short program in a single `u32` array, so a query
//! reads one contiguous run of memory: the reference point, the prefix, then
//! each entry (unit, end of its subtree, kind and edge count) followed by the
//! indices of its edges in a shared table of distinct edges (a border shared
//! by two units, or repeated at several levels, is stored once).
//!
//! Cells are closed and widened by a margin far larger than the rounding of
//! the query's cell computation, so the cell a query lands in always holds
//! it, and every edge that could touch the query's segment to the reference
//! point is in the cell's list. Being conservative only costs time: an edge
//! listed in a cell it does not touch never crosses that segment.

use std::collections::HashMap;

use super::{IndexOptions, Tree};
use crate::prepared::{PreparedPolygon, cell_contains, orient};

/// No unit.
pub(super) const NONE: u32 = u32::MAX;
/// Flags a cell value as the offset of a mixed cell's program (else unit + 1,
/// or 0 for no unit).
const MIXED: u32 = 1 << 31;
/// Flags an edge index whose edge is to be read backwards (so that the cell's
/// reference point is on its left).
const REVERSED: u32 = 1 << 31;
/// Default grid size: cells per polygon edge. Fewer cells means more edges
/// to test in a mixed cell; more means a larger array whose reads miss the
/// cache. Chosen by measurement on the Wuhu demo (see docs/benchmarks.md).
pub(super) const CELLS_PER_EDGE: usize = 4;
const MIN_CELLS: usize = 1 << 10;
const MAX_CELLS: usize = 1 << 22;
/// Candidate reference points tried per mixed cell before falling back.
const REFERENCE_TRIES: usize = 16;
/// Words before a mixed cell's first entry: rx, ry (two words each), prefix, end.
const HEADER: usize = 6;
/// Words of an entry before its edges: unit, end of subtree, kind | count << 2.
const ENTRY: usize = 3;

/// The unit contains the whole cell (and its boundary does not touch it).
const INSIDE: u32 = 0;
/// The unit's boundary crosses the cell; the reference point is outside it.
const CROSS_OUT: u32 = 1;
/// The unit's boundary crosses the cell; the reference point is inside it.
const CROSS_IN: u32 = 2;
/// Test the whole polygon (no usable reference point).
const FALLBACK: u32 = 3;

/// The grid. See the module docs.
#[derive(Debug)]
pub(super) struct CellGrid {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
    inv_w: f64,
    inv_h: f64,
    nx: usize,
    ny: usize,
    cells: Vec<u32>,
    /// The mixed cells' programs.
    programs: Vec<u32>,
    /// Distinct edges, `[x1, y1, x2, y2]`.
    edges: Vec<[f64; 4]>,
    mixed: usize,
    entries: usize,
    cell_edges: usize,
    fallbacks: usize,
}

/// A unit whose boundary touches the cell being built, with its edges there
/// (indices into the distinct edges).
struct Crossing {
    node: u32,
    edges: Vec<u32>,
    r_inside: bool,
}

/// An entry of the cell being built, before it is laid out.
struct Pending {
    node: u32,
    /// Index (among pending entries) of the first entry after its subtree.
    end: usize,
    /// Index into the crossing units, if its boundary touches the cell.
    crossing: Option<usize>,
}

impl CellGrid {
    fn empty() -> CellGrid {
        // An empty box: every comparison in `locate` fails.
        CellGrid {
            x0: f64::INFINITY,
            y0: f64::INFINITY,
            x1: f64::NEG_INFINITY,
            y1: f64::NEG_INFINITY,
            inv_w: 0.0,
            inv_h: 0.0,
            nx: 0,
            ny: 0,
            cells: Vec::new(),
            programs: Vec::new(),
            edges: Vec::new(),
            mixed: 0,
            entries: 0,
            cell_edges: 0,
            fallbacks: 0,
        }
    }

    /// Builds the grid; also says which units some cell falls back to a
    /// whole-polygon test for.
    pub(super) fn build(tree: &Tree, options: IndexOptions) -> (CellGrid, Vec<bool>) {
        let n = tree.len();
        let mut needs_fallback = vec![false; n];
        if n == 0 {
            return (CellGrid::empty(), needs_fallback);
        }
        let mut ext = [f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY];
        for p in &tree.polygons {
            let [a, b, c, d] = p.bbox();
            ext = [ext[0].min(a), ext[1].min(b), ext[2].max(c), ext[3].max(d)];
        }
        let scale = ext.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        // Pad so that the box has a positive size and its far edges map into
        // the last cell comfortably.
        let pad = ((ext[2] - ext[0]).max(ext[3] - ext[1]) * 1e-9).max(scale * 1e-12);
        let [x0, y0, x1, y1] = [ext[0] - pad, ext[1] - pad, ext[2] + pad, ext[3] + pad];
        let (width, height) = (x1 - x0, y1 - y0);
        let target = match options.target_cells {
            Some(t) => t.clamp(1, MAX_CELLS),
            None => tree.edges.len().saturating_mul(CELLS_PER_EDGE).clamp(MIN_CELLS, MAX_CELLS),
        };
        // Square cells, as near as the box allows.
        let nx = ((target as f64 * width / height).sqrt().round() as usize).clamp(1, target);
        let ny = (target / nx).max(1);
        let (w, h) = (width / nx as f64, height / ny as f64);
        // Far above the rounding of `(x - x0) * inv_w` and of the clipping
        // below, far below a cell.
        let delta = 1e-7 * w.min(h) + 64.0 * f64::EPSILON * scale;
        let mut grid = CellGrid {
            x0,
            y0,
            x1,
            y1,
            inv_w: nx as f64 / width,
            inv_h: ny as f64 / height,
            nx,
            ny,
            cells: vec![0; nx * ny],
            ..CellGrid::empty()
        };

        // Distinct edges, each unit edge mapped to one of them.
        let mut distinct: HashMap<[u64; 4], u32> = HashMap::with_capacity(tree.edges.len());
        let mut edge_id = Vec::with_capacity(tree.edges.len());
        for &[ax, ay, bx, by] in &tree.edges {
            let e = if (ax, ay) <= (bx, by) { [ax, ay, bx, by] } else { [bx, by, ax, ay] };
            let key = e.map(f64::to_bits);
            let next = grid.edges.len() as u32;
            let id = *distinct.entry(key).or_insert(next);
            if id == next {
                grid.edges.push(e);
            }
            edge_id.push(id);
        }
        drop(distinct);

        // (cell, unit, edge) for every edge and every cell it may touch.
        let mut pairs: Vec<(u32, u32, u32)> = Vec::with_capacity(tree.edges.len() * 4);
        for node in 0..n as u32 {
            let first = tree.edge_starts[node as usize];
            for (k, e) in tree.edges_of(node).iter().enumerate() {
                let edge = edge_id[first + k];
                grid.for_each_touched_cell(e, h, delta, |cell| pairs.push((cell, node, edge)));
            }
        }
        pairs.sort_unstable();

        let mut p = 0;
        let mut builder = MixedBuilder::default();
        for cy in 0..ny {
            // The value of the previous cell in this row if no edge touched
            // it: a neighbour no edge touches has the same answer, since
            // nothing separates the two.
            let mut run: Option<u32> = None;
            for cx in 0..nx {
                let cell = (cy * nx + cx) as u32;
                let start = p;
                while p < pairs.len() && pairs[p].0 == cell {
                    p += 1;
                }
                let rect = [
                    x0 + cx as f64 * w - delta,
                    y0 + cy as f64 * h - delta,
                    x0 + (cx + 1) as f64 * w + delta,
                    y0 + (cy + 1) as f64 * h + delta,
                ];
                let value = if start == p {
                    match run {
                        Some(v) => v,
                        None => pure(tree.descend((rect[0] + rect[2]) / 2.0, (rect[1] + rect[3]) / 2.0)),
                    }
                } else {
                    builder.build(&mut grid, tree, rect, &pairs[start..p], &mut needs_fallback)
                };
                run = (start == p).then_some(value);
                grid.cells[cell as usize] = value;
            }
        }
        grid.programs.shrink_to_fit();
        grid.edges.shrink_to_fit();
        (grid, needs_fallback)
    }

    /// Calls `f` with every cell whose widened rectangle the edge may touch.
    fn for_each_touched_cell(&self, e: &[f64; 4], h: f64, delta: f64, mut f: impl FnMut(u32)) {
        let [ax, ay, bx, by] = *e;
        let row_of = |y: f64| (((y - self.y0) * self.inv_h).floor().max(0.0) as usize).min(self.ny - 1);
        let col_of = |x: f64| (((x - self.x0) * self.inv_w).floor().max(0.0) as usize).min(self.nx - 1);
        for row in row_of(ay.min(by) - delta)..=row_of(ay.max(by) + delta) {
            let lo = self.y0 + row as f64 * h - delta;
            let hi = self.y0 + (row + 1) as f64 * h + delta;
            // The part of the edge within this row's band, as an x-range.
            let (xa, xb) = if ay == by {
                (ax.min(bx), ax.max(bx))
            } else {
                let (t0, t1) = ((lo - ay) / (by - ay), (hi - ay) / (by - ay));
                let (t0, t1) = (t0.min(t1).clamp(0.0, 1.0), t0.max(t1).clamp(0.0, 1.0));
                let (u, v) = (ax + (bx - ax) * t0, ax + (bx - ax) * t1);
                (u.min(v), u.max(v))
            };
            let row_base = row * self.nx;
            for col in col_of(xa - delta)..=col_of(xb + delta) {
                f((row_base + col) as u32);
            }
        }
    }

    /// The deepest unit containing the point, or [`NONE`].
    #[inline]
    pub(super) fn locate(&self, x: f64, y: f64, fallback: &[Option<PreparedPolygon>]) -> u32 {
        // Written as a negation so NaN falls out as "not contained".
        if !(x >= self.x0 && x <= self.x1 && y >= self.y0 && y <= self.y1) {
            return NONE;
        }
        let cx = (((x - self.x0) * self.inv_w) as usize).min(self.nx - 1);
        let cy = (((y - self.y0) * self.inv_h) as usize).min(self.ny - 1);
        let v = self.cells[cy * self.nx + cx];
        if v & MIXED == 0 {
            // 0 (no unit) wraps to NONE.
            return v.wrapping_sub(1);
        }
        self.walk((v & !MIXED) as usize, x, y, fallback)
    }

    /// Replays the descent over a mixed cell's program.
    #[inline]
    fn walk(&self, at: usize, x: f64, y: f64, fallback: &[Option<PreparedPolygon>]) -> u32 {
        let Some(head) = self.programs.get(at..at + HEADER) else {
            return NONE;
        };
        let rx = f64::from_bits(u64::from(head[0]) | u64::from(head[1]) << 32);
        let ry = f64::from_bits(u64::from(head[2]) | u64::from(head[3]) << 32);
        let mut cur = head[4];
        let mut limit = head[5] as usize;
        let mut k = at + HEADER;
        while k < limit {
            let Some(&[node, end, meta]) = self.programs.get(k..k + ENTRY).and_then(|s| s.first_chunk()) else {
                break;
            };
            let count = (meta >> 2) as usize;
            let body = k + ENTRY;
            let hit = match meta & 3 {
                INSIDE => true,
                FALLBACK => fallback.get(node as usize).and_then(Option::as_ref).is_some_and(|p| p.contains(x, y)),
                kind => {
                    let words = self.programs.get(body..body + count).unwrap_or_default();
                    cell_contains(words.iter().map(|&w| self.edge(w)), kind == CROSS_IN, rx, ry, x, y)
                }
            };
            if hit {
                cur = node;
                limit = end as usize;
                k = body + count;
            } else {
                k = end as usize;
            }
        }
        cur
    }

    #[inline]
    fn edge(&self, word: u32) -> [f64; 4] {
        let [ax, ay, bx, by] = self.edges.get((word & !REVERSED) as usize).copied().unwrap_or_default();
        if word & REVERSED == 0 { [ax, ay, bx, by] } else { [bx, by, ax, ay] }
    }

    pub(super) fn columns(&self) -> usize {
        self.nx
    }

    pub(super) fn rows(&self) -> usize {
        self.ny
    }

    pub(super) fn resolved_cells(&self) -> usize {
        self.cells.len() - self.mixed
    }

    pub(super) fn mixed_cells(&self) -> usize {
        self.mixed
    }

    pub(super) fn entry_count(&self) -> usize {
        self.entries
    }

    pub(super) fn edge_count(&self) -> usize {
        self.cell_edges
    }

    pub(super) fn distinct_edges(&self) -> usize {
        self.edges.len()
    }

    pub(super) fn fallback_entries(&self) -> usize {
        self.fallbacks
    }

    pub(super) fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        self.cells.capacity() * size_of::<u32>()
            + self.programs.capacity() * size_of::<u32>()
            + self.edges.capacity() * size_of::<[f64; 4]>()
    }
}

/// The value of a cell resolved to one unit (or none).
fn pure(node: u32) -> u32 {
    // Unit indices are below 2³¹ − 1: there are never that many units.
    node.wrapping_add(1) & !MIXED
}

/// Scratch space reused across mixed cells.
#[derive(Default)]
struct MixedBuilder {
    crossing: Vec<Crossing>,
    pending: Vec<Pending>,
    offsets: Vec<usize>,
}

impl MixedBuilder {
    /// Classifies the units against one cell touched by `pairs` (sorted by
    /// unit) and returns the cell's value.
    fn build(
        &mut self,
        grid: &mut CellGrid,
        tree: &Tree,
        rect: [f64; 4],
        pairs: &[(u32, u32, u32)],
        needs_fallback: &mut [bool],
    ) -> u32 {
        self.crossing.clear();
        for &(_, node, edge) in pairs {
            match self.crossing.last_mut() {
                Some(c) if c.node == node => c.edges.push(edge),
                _ => self.crossing.push(Crossing { node, edges: vec![edge], r_inside: false }),
            }
        }
        // A reference point on no edge's line, so that each edge has it
        // strictly on one side; tried at the centre first, then spread over
        // the inner part of the cell.
        let [x0, y0, x1, y1] = rect;
        let edges = &grid.edges;
        let reference = (0..REFERENCE_TRIES)
            .map(|k| {
                let (fx, fy) = if k == 0 {
                    (0.5, 0.5)
                } else {
                    let k = k as f64;
                    (0.1 + 0.8 * (k * 0.618_033_988_75).fract(), 0.1 + 0.8 * (k * 0.754_877_666_25).fract())
                };
                (x0 + (x1 - x0) * fx, y0 + (y1 - y0) * fy)
            })
            .find(|&(rx, ry)| {
                self.crossing.iter().flat_map(|c| &c.edges).all(|&i| {
                    let [ax, ay, bx, by] = edges[i as usize];
                    orient(ax, ay, bx, by, rx, ry) != 0.0
                })
            });
        let usable = reference.is_some();
        let (rx, ry) = reference.unwrap_or(((x0 + x1) / 2.0, (y0 + y1) / 2.0));
        for c in &mut self.crossing {
            c.r_inside = tree.polygons[c.node as usize].contains(rx, ry);
        }

        self.pending.clear();
        self.expand(tree, NONE, rx, ry);

        // Leading inside entries are taken for every point of the cell.
        let mut prefix = NONE;
        let mut skip = 0;
        while let Some(e) = self.pending.get(skip).filter(|e| e.crossing.is_none()) {
            prefix = e.node;
            skip += 1;
        }
        if skip == self.pending.len() {
            return pure(prefix);
        }

        // Lay out the remaining entries: offsets[i] is where pending entry i
        // starts, offsets[len] where the program ends.
        let base = grid.programs.len();
        let words =
            |e: &Pending| ENTRY + if usable { e.crossing.map_or(0, |i| self.crossing[i].edges.len()) } else { 0 };
        self.offsets.clear();
        let mut at = base + HEADER;
        for e in &self.pending[skip..] {
            self.offsets.push(at);
            at += words(e);
        }
        self.offsets.push(at);
        let offset_of = |i: usize| self.offsets[i - skip] as u32;

        let p = &mut grid.programs;
        let (rxb, ryb) = (rx.to_bits(), ry.to_bits());
        p.extend_from_slice(&[rxb as u32, (rxb >> 32) as u32, ryb as u32, (ryb >> 32) as u32, prefix, at as u32]);
        for e in &self.pending[skip..] {
            let (kind, edges): (u32, &[u32]) = match e.crossing.map(|i| &self.crossing[i]) {
                None => (INSIDE, &[]),
                Some(c) if !usable => {
                    needs_fallback[c.node as usize] = true;
                    grid.fallbacks += 1;
                    (FALLBACK, &[])
                }
                Some(c) => (if c.r_inside { CROSS_IN } else { CROSS_OUT }, &c.edges),
            };
            p.extend_from_slice(&[e.node, offset_of(e.end), kind | (edges.len() as u32) << 2]);
            p.extend(edges.iter().map(|&i| {
                let [ax, ay, bx, by] = grid.edges[i as usize];
                if orient(ax, ay, bx, by, rx, ry) > 0.0 { i } else { i | REVERSED }
            }));
            grid.entries += 1;
            grid.cell_edges += edges.len();
        }
        grid.mixed += 1;
        MIXED | base as u32
    }

    /// Appends, in descent order, the children of `parent` that may be taken
    /// somewhere in the cell, each followed by its own subtree.
    fn expand(&mut self, tree: &Tree, parent: u32, rx: f64, ry: f64) {
        // (unit, index into `crossing` if its boundary touches the cell)
        let mut candidates: Vec<(u32, Option<usize>)> = Vec::new();
        for (i, c) in self.crossing.iter().enumerate() {
            if tree.parents[c.node as usize] == parent {
                candidates.push((c.node, Some(i)));
            }
        }
        let crossing = &self.crossing;
        tree.children_of(parent).for_each_box_hit(rx, ry, |id| {
            let touches = crossing.binary_search_by_key(&id, |c| c.node).is_ok();
            if !touches && tree.polygons[id as usize].contains(rx, ry) {
                candidates.push((id, None));
            }
        });
        candidates.sort_unstable();
        for (node, crossing) in candidates {
            let at = self.pending.len();
            self.pending.push(Pending { node, end: 0, crossing });
            self.expand(tree, node, rx, ry);
            self.pending[at].end = self.pending.len();
            if crossing.is_none() {
                // Taken wherever it is reached: later siblings never are.
                break;
            }
        }
    }
}
