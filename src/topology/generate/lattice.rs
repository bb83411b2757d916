//! Regular shapes with no randomness: ring, line, star, complete graph, 2-D grid and
//! torus, k-ary tree. Their closed forms (diameter, link count, duplicates) make them
//! the yardsticks the tests and experiments check flooding against.

/// `0 - 1 - ... - (n-1) - 0`.
pub fn ring(n: u32) -> Vec<(u32, u32)> {
    let mut edges = line(n);
    if n >= 3 {
        edges.push((n - 1, 0));
    }
    edges
}

/// `0 - 1 - ... - (n-1)`.
pub fn line(n: u32) -> Vec<(u32, u32)> {
    (1..n).map(|v| (v - 1, v)).collect()
}

/// Node 0 linked to every other node.
pub fn star(n: u32) -> Vec<(u32, u32)> {
    (1..n).map(|v| (0, v)).collect()
}

/// Every pair linked.
pub fn complete(n: u32) -> Vec<(u32, u32)> {
    (0..n)
        .flat_map(|a| (a + 1..n).map(move |b| (a, b)))
        .collect()
}

/// A `w` × `h` grid; node `x + y*w`. With `wrap`, a torus (rows and columns close into
/// rings; a side shorter than 3 does not wrap, to keep the graph simple).
pub fn grid(w: u32, h: u32, wrap: bool) -> Vec<(u32, u32)> {
    let mut edges = Vec::with_capacity(2 * w as usize * h as usize);
    let id = |x: u32, y: u32| x + y * w;
    for y in 0..h {
        for x in 0..w {
            if x + 1 < w {
                edges.push((id(x, y), id(x + 1, y)));
            } else if wrap && w >= 3 {
                edges.push((id(x, y), id(0, y)));
            }
            if y + 1 < h {
                edges.push((id(x, y), id(x, y + 1)));
            } else if wrap && h >= 3 {
                edges.push((id(x, y), id(x, 0)));
            }
        }
    }
    edges
}

/// A complete-as-possible k-ary tree in breadth-first order: node `v > 0` hangs under
/// `(v - 1) / k`, so `n = 1 + k + k² + ...` gives a full tree.
pub fn tree(n: u32, k: u32) -> Vec<(u32, u32)> {
    (1..n).map(|v| ((v - 1) / k, v)).collect()
}
