//! A set of address ids as runs of consecutive ids: how an outage's area is
//! stored (`outage_ranges`) and how "which outages cover these addresses" is
//! answered. Pure arithmetic, shared by the store and anything that keeps
//! outage areas in memory.

/// The position of the first element of ascending `sorted[from..]` that is
/// not below `target` (as `partition_point`), found by galloping from `from`:
/// walking ascending ids through another ascending list costs a few steps
/// each when they lie close together, not a whole binary search.
pub fn gallop(sorted: &[i64], from: usize, target: i64) -> usize {
    let mut step = 1;
    while from + step < sorted.len() && sorted[from + step] < target {
        step *= 2;
    }
    let end = (from + step + 1).min(sorted.len());
    from + sorted[from.min(end)..end].partition_point(|x| *x < target)
}

/// (added, removed) between two ascending id lists.
pub fn sorted_diff(old: &[i64], new: &[i64]) -> (Vec<i64>, Vec<i64>) {
    let (mut added, mut removed) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        match (old.get(i), new.get(j)) {
            (Some(a), Some(b)) if a == b => {
                i += 1;
                j += 1;
            }
            (Some(a), Some(b)) if a < b => {
                removed.push(*a);
                i += 1;
            }
            (Some(_), Some(b)) => {
                added.push(*b);
                j += 1;
            }
            (Some(a), None) => {
                removed.push(*a);
                i += 1;
            }
            (None, Some(b)) => {
                added.push(*b);
                j += 1;
            }
            (None, None) => unreachable!(),
        }
    }
    (added, removed)
}

/// An outage's area is stored as runs of consecutive address ids
/// (`outage_ranges`: first, last), not a row per address. Ids are assigned in
/// import order, and registers are exported street by street, so the addresses
/// inside a polygon come in long runs: the storm outage in BENCHMARKS.md covers
/// 524,101 addresses in 835 runs. Writing 835 rows instead of half a million is
/// what keeps declaring a storm within seconds on PostgreSQL (index maintenance
/// per row was the cost). In the worst case (ids in random order) it is one run
/// per address, which is what the table held before.
///
/// Runs of consecutive ids in an ascending, duplicate-free list.
pub fn id_runs(ids: &[i64]) -> Vec<(i64, i64)> {
    let mut runs: Vec<(i64, i64)> = Vec::new();
    for &id in ids {
        match runs.last_mut() {
            Some((_, last)) if *last + 1 == id => *last = id,
            _ => runs.push((id, id)),
        }
    }
    runs
}

/// Every id in the runs, ascending (the inverse of [`id_runs`]).
pub fn expand_runs(runs: &[(i64, i64)]) -> Vec<i64> {
    runs.iter()
        .flat_map(|&(first, last)| first..=last)
        .collect()
}

/// How many of `ids` (ascending) one outage's `runs` (ascending, disjoint)
/// cover: one pass over each, and none at all when the ranges do not meet.
pub fn count_covered(runs: &[(i64, i64)], ids: &[i64]) -> usize {
    let (Some(first), Some(last)) = (runs.first(), runs.last()) else {
        return 0;
    };
    let (Some(&lo), Some(&hi)) = (ids.first(), ids.last()) else {
        return 0;
    };
    if hi < first.0 || lo > last.1 {
        return 0;
    }
    let mut n = 0;
    let mut run = runs.iter().peekable();
    for &id in &ids[ids.partition_point(|i| *i < first.0)..] {
        while run.next_if(|r| r.1 < id).is_some() {}
        match run.peek() {
            Some(r) if r.0 <= id => n += 1,
            Some(_) => {}
            None => break,
        }
    }
    n
}

#[cfg(test)]
mod tests {

    #[test]
    fn gallop_finds_what_partition_point_finds() {
        let sorted: Vec<i64> = (0..200).map(|i| i * 3).collect();
        for from in [0, 1, 17, 199, 200] {
            for target in [-5, 0, 1, 3, 50, 298, 597, 598, 1000] {
                let want = from + sorted[from..].partition_point(|x| *x < target);
                assert_eq!(
                    gallop(&sorted, from, target),
                    want,
                    "from {from}, target {target}"
                );
            }
        }
        assert_eq!(gallop(&[], 0, 5), 0);
    }

    use super::*;

    #[test]
    fn counts_covered_ids() {
        let runs = [(10, 12), (20, 20), (30, 40)];
        assert_eq!(count_covered(&runs, &[5, 11, 12, 13, 20, 35, 41]), 4);
        assert_eq!(count_covered(&runs, &[1, 2]), 0);
        assert_eq!(count_covered(&runs, &[50]), 0);
        assert_eq!(count_covered(&[], &[1]), 0);
        assert_eq!(count_covered(&runs, &[]), 0);
    }

    #[test]
    fn runs_of_consecutive_ids() {
        assert_eq!(id_runs(&[]), vec![]);
        assert_eq!(id_runs(&[7]), vec![(7, 7)]);
        assert_eq!(id_runs(&[1, 2, 3, 5, 8, 9]), vec![(1, 3), (5, 5), (8, 9)]);
        let ids = vec![1, 2, 3, 5, 8, 9, 10, 42];
        assert_eq!(expand_runs(&id_runs(&ids)), ids);
    }

    #[test]
    fn diff_of_sorted_lists() {
        assert_eq!(
            sorted_diff(&[1, 2, 4, 7], &[2, 3, 4, 8]),
            (vec![3, 8], vec![1, 7])
        );
        assert_eq!(sorted_diff(&[], &[1]), (vec![1], vec![]));
        assert_eq!(sorted_diff(&[5], &[]), (vec![], vec![5]));
    }
}
