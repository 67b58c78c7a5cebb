//! The frontier (diamond-types local version) and text length after each of a
//! document's recent versions, so an edit made against an older version can be
//! merged at exactly the state its author saw (and checked against that state's
//! length without rebuilding it), and a reconnecting client can get only what it
//! missed.

use std::collections::VecDeque;

/// A diamond-types local version: the set of op-log heads.
pub type Frontier = smallvec::SmallVec<[usize; 2]>;

/// What is kept of one version: its frontier and the length of its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionPoint {
    pub frontier: Frontier,
    pub len: usize,
}

/// Versions `first..=first + n - 1`, bounded to `capacity` entries.
#[derive(Debug, Clone)]
pub struct VersionWindow {
    first: u64,
    frontiers: VecDeque<VersionPoint>,
    capacity: usize,
}

impl VersionWindow {
    /// A window holding only version 0, the empty document.
    pub fn new(capacity: usize) -> Self {
        let mut frontiers = VecDeque::new();
        frontiers.push_back(VersionPoint {
            frontier: Frontier::new(),
            len: 0,
        });
        VersionWindow {
            first: 0,
            frontiers,
            capacity: capacity.max(1),
        }
    }

    pub fn from_parts(first: u64, points: Vec<(Vec<usize>, u64)>, capacity: usize) -> Option<Self> {
        if points.is_empty() {
            return None;
        }
        let mut w = VersionWindow {
            first,
            frontiers: points
                .into_iter()
                .map(|(f, len)| VersionPoint {
                    frontier: Frontier::from_vec(f),
                    len: len as usize,
                })
                .collect(),
            capacity: capacity.max(1),
        };
        w.trim();
        Some(w)
    }

    /// The newest version held.
    pub fn latest(&self) -> u64 {
        self.first + self.frontiers.len() as u64 - 1
    }

    pub fn first(&self) -> u64 {
        self.first
    }

    /// The frontier and length after `version`, if it is still in the window.
    pub fn get(&self, version: u64) -> Option<&VersionPoint> {
        let idx = version.checked_sub(self.first)?;
        self.frontiers.get(usize::try_from(idx).ok()?)
    }

    /// Records the frontier and length after the next version.
    pub fn push(&mut self, frontier: Frontier, len: usize) {
        self.frontiers.push_back(VersionPoint { frontier, len });
        self.trim();
    }

    fn trim(&mut self) {
        while self.frontiers.len() > self.capacity {
            self.frontiers.pop_front();
            self.first += 1;
        }
    }

    pub fn to_parts(&self) -> (u64, Vec<(Vec<usize>, u64)>) {
        let points = self.frontiers.iter();
        (
            self.first,
            points
                .map(|p| (p.frontier.to_vec(), p.len as u64))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_trims_oldest() {
        let mut w = VersionWindow::new(3);
        for i in 0..5usize {
            w.push(Frontier::from_slice(&[i]), i * 10);
        }
        assert_eq!(w.latest(), 5);
        assert_eq!(w.first(), 3);
        assert!(w.get(2).is_none());
        assert_eq!(w.get(5).unwrap().frontier.as_slice(), &[4]);
        assert_eq!(w.get(5).unwrap().len, 40);
        assert!(w.get(6).is_none());
    }
}
