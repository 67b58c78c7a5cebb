//! The frontier (diamond-types local version) after each of a document's recent
//! versions, so an edit made against an older version can be merged at exactly the
//! state its author saw, and a reconnecting client can get only what it missed.

use std::collections::VecDeque;

/// A diamond-types local version: the set of op-log heads.
pub type Frontier = smallvec::SmallVec<[usize; 2]>;

/// Frontiers of versions `first..=first + len - 1`, bounded to `capacity` entries.
#[derive(Debug, Clone)]
pub struct VersionWindow {
    first: u64,
    frontiers: VecDeque<Frontier>,
    capacity: usize,
}

impl VersionWindow {
    /// A window holding only version 0, the empty document.
    pub fn new(capacity: usize) -> Self {
        let mut frontiers = VecDeque::new();
        frontiers.push_back(Frontier::new());
        VersionWindow {
            first: 0,
            frontiers,
            capacity: capacity.max(1),
        }
    }

    pub fn from_parts(first: u64, frontiers: Vec<Vec<usize>>, capacity: usize) -> Option<Self> {
        if frontiers.is_empty() {
            return None;
        }
        let mut w = VersionWindow {
            first,
            frontiers: frontiers.into_iter().map(Frontier::from_vec).collect(),
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

    /// The frontier after `version`, if it is still in the window.
    pub fn get(&self, version: u64) -> Option<&Frontier> {
        let idx = version.checked_sub(self.first)?;
        self.frontiers.get(usize::try_from(idx).ok()?)
    }

    /// Records the frontier after the next version.
    pub fn push(&mut self, frontier: Frontier) {
        self.frontiers.push_back(frontier);
        self.trim();
    }

    fn trim(&mut self) {
        while self.frontiers.len() > self.capacity {
            self.frontiers.pop_front();
            self.first += 1;
        }
    }

    pub fn to_parts(&self) -> (u64, Vec<Vec<usize>>) {
        (
            self.first,
            self.frontiers.iter().map(|f| f.to_vec()).collect(),
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
            w.push(Frontier::from_slice(&[i]));
        }
        assert_eq!(w.latest(), 5);
        assert_eq!(w.first(), 3);
        assert!(w.get(2).is_none());
        assert_eq!(w.get(5).unwrap().as_slice(), &[4]);
        assert!(w.get(6).is_none());
    }
}
