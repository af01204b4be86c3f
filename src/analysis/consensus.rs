//! A consensus dictionary: the components that several runs (seeds) agree on.
//!
//! The strongest `per_run` components of every run are pooled and clustered by
//! *average-linkage agglomeration under a one-per-run constraint*: every component starts
//! alone, and the two clusters with the highest mean member-to-member similarity
//! ([`component_similarity`](super::stability::component_similarity), both symmetries respected) are merged, provided they contain no
//! run in common, for as long as that mean is at least `min_similarity`. Compared with the
//! reference's single greedy pass (SPEC §7.9, §13.14) this is
//! * order-independent: no founder decides a cluster, no early arrival blocks a better one;
//! * one component per run: support equals size, and a run's near-duplicates cannot pose as
//!   agreement between seeds;
//! * guaranteed: a merged cluster's mean pairwise similarity is a weighted mean of its parts'
//!   and the linking mean, each ≥ the threshold, so every cluster's `mean_similarity` is too.
//!
//! Cost is O(n³) in the pooled count n, fine for hundreds of components.

use serde::Serialize;

use super::stability::{oriented_similarity, similarity_matrix};
use crate::decomp::Components;

/// What to pool and how alike components must be to count as one.
#[derive(Clone, Debug, Serialize)]
pub struct ConsensusConfig {
    /// Strongest components taken from each run.
    pub per_run: usize,
    /// Least mean similarity for a merge.
    pub min_similarity: f64,
    /// Compare heads too (see [`component_similarity`](super::stability::component_similarity)).
    pub use_heads: bool,
}

impl Default for ConsensusConfig {
    /// 28 per run as the reference (which picked by a score, not by strength); 0.5 because
    /// the reference's 0.32 admits pairs that share little more than a blob of ink.
    fn default() -> Self {
        Self { per_run: 28, min_similarity: 0.5, use_heads: false }
    }
}

/// One recurring component.
#[derive(Clone, Debug, Serialize)]
pub struct Cluster {
    /// `(run, component index)`, by run.
    pub members: Vec<(usize, usize)>,
    /// Whether each member enters under the swap `(plus, minus, head) → (minus, plus, −head)`
    /// relative to the medoid member.
    pub swapped: Vec<bool>,
    /// Distinct runs (= members, one per run).
    pub support: usize,
    /// Mean and least pairwise similarity of the members (1 for a single member).
    pub mean_similarity: f64,
    pub min_similarity: f64,
    /// Mean of the aligned members' patterns, re-normalised (a zero minus stays zero). Left
    /// out of JSON for size; figures read them from the struct.
    #[serde(skip)]
    pub plus: Vec<f32>,
    #[serde(skip)]
    pub minus: Vec<f32>,
    /// Mean of the aligned members' heads.
    pub head: Vec<f32>,
    /// The class most members vote for (argmax |aligned head|), its sign in `head`, and the
    /// fraction of members voting for it.
    pub class: usize,
    pub sign: f32,
    pub class_agreement: f64,
}

/// The consensus dictionary and its summary numbers.
#[derive(Clone, Debug, Serialize)]
pub struct ConsensusReport {
    pub config: ConsensusConfig,
    pub runs: usize,
    /// Components pooled.
    pub components: usize,
    /// By support, then mean similarity, descending.
    pub clusters: Vec<Cluster>,
    /// The reference's display selection ([`reference_selection`] with 12 and 2) and its
    /// `chosen_mean_seed_support` / `chosen_mean_similarity`.
    pub chosen: Vec<usize>,
    pub chosen_mean_support: f64,
    pub chosen_mean_similarity: f64,
}

impl ConsensusReport {
    /// Mean support of the `k` best clusters.
    pub fn mean_support_top(&self, k: usize) -> f64 {
        mean(self.clusters.iter().take(k).map(|c| c.support as f64))
    }

    /// Mean `mean_similarity` of the `k` best clusters.
    pub fn mean_similarity_top(&self, k: usize) -> f64 {
        mean(self.clusters.iter().take(k).map(|c| c.mean_similarity))
    }
}

/// Clusters the strongest components of `runs` (see the module docs).
pub fn consensus(runs: &[Components], cfg: &ConsensusConfig) -> ConsensusReport {
    let counts: Vec<usize> = runs.iter().map(|r| cfg.per_run.min(r.len())).collect();
    let pool: Vec<(usize, usize)> = counts.iter().enumerate().flat_map(|(r, &k)| (0..k).map(move |i| (r, i))).collect();
    let n = pool.len();
    let offset: Vec<usize> = counts.iter().scan(0, |s, &k| Some(std::mem::replace(s, *s + k))).collect();
    // Similarity of every pooled pair (same-run pairs too: the one-per-run rule, not a zero
    // here, is what keeps them apart).
    let mut sim = vec![0.0f64; n * n];
    for p in 0..runs.len() {
        for q in p..runs.len() {
            let s = similarity_matrix(&runs[p], counts[p], &runs[q], counts[q], cfg.use_heads);
            for i in 0..counts[p] {
                for j in 0..counts[q] {
                    let (a, b) = (offset[p] + i, offset[q] + j);
                    (sim[a * n + b], sim[b * n + a]) = (s[(i, j)], s[(i, j)]);
                }
            }
        }
    }
    let groups = agglomerate(&pool, &sim, runs.len(), cfg.min_similarity);
    let mut clusters: Vec<(usize, Cluster)> = groups.iter().map(|g| (g[0], describe(runs, &pool, &sim, g, cfg.use_heads))).collect();
    clusters.sort_by(|(fa, a), (fb, b)| b.support.cmp(&a.support).then(b.mean_similarity.total_cmp(&a.mean_similarity)).then(fa.cmp(fb)));
    let clusters: Vec<Cluster> = clusters.into_iter().map(|c| c.1).collect();
    let chosen = reference_selection(&clusters, 12, 2);
    ConsensusReport {
        config: cfg.clone(),
        runs: runs.len(),
        components: n,
        chosen_mean_support: mean(chosen.iter().map(|&c| clusters[c].support as f64)),
        chosen_mean_similarity: mean(chosen.iter().map(|&c| clusters[c].mean_similarity)),
        chosen,
        clusters,
    }
}

/// The reference's `select_clusters` (SPEC §7.9): first clusters with support ≥ 2, at most
/// `max_per_class` per class, in order, up to `max_clusters`; then any remaining, in order.
pub fn reference_selection(clusters: &[Cluster], max_clusters: usize, max_per_class: usize) -> Vec<usize> {
    let mut chosen = Vec::new();
    let mut per_class = std::collections::HashMap::<usize, usize>::new();
    for (i, c) in clusters.iter().enumerate() {
        let taken = per_class.entry(c.class).or_default();
        if chosen.len() < max_clusters && c.support >= 2 && *taken < max_per_class {
            *taken += 1;
            chosen.push(i);
        }
    }
    for i in 0..clusters.len() {
        if chosen.len() < max_clusters && !chosen.contains(&i) {
            chosen.push(i);
        }
    }
    chosen
}

/// Pool indices of each cluster (each sorted), by constrained average linkage.
fn agglomerate(pool: &[(usize, usize)], sim: &[f64], runs: usize, threshold: f64) -> Vec<Vec<usize>> {
    let n = pool.len();
    let words = runs.div_ceil(64).max(1);
    let mut members: Vec<Vec<usize>> = (0..n).map(|i| vec![i]).collect();
    let mut run_set = vec![0u64; n * words];
    for (i, &(r, _)) in pool.iter().enumerate() {
        run_set[i * words + r / 64] |= 1 << (r % 64);
    }
    let mut alive = vec![true; n];
    // Sum of member-to-member similarities between clusters a and b.
    let mut link = sim.to_vec();
    loop {
        let mut best: Option<(f64, usize, usize)> = None;
        for a in (0..n).filter(|&a| alive[a]) {
            for b in (a + 1..n).filter(|&b| alive[b]) {
                let disjoint = (0..words).all(|w| run_set[a * words + w] & run_set[b * words + w] == 0);
                let avg = link[a * n + b] / (members[a].len() * members[b].len()) as f64;
                if disjoint && avg >= threshold && best.is_none_or(|(v, _, _)| avg > v) {
                    best = Some((avg, a, b));
                }
            }
        }
        let Some((_, a, b)) = best else { break };
        for c in 0..n {
            link[a * n + c] += link[b * n + c];
            link[c * n + a] = link[a * n + c];
        }
        for w in 0..words {
            run_set[a * words + w] |= run_set[b * words + w];
        }
        let moved = std::mem::take(&mut members[b]);
        members[a].extend(moved);
        members[a].sort_unstable();
        alive[b] = false;
    }
    (0..n).filter(|&i| alive[i]).map(|i| std::mem::take(&mut members[i])).collect()
}

/// Statistics and aligned consensus of one cluster (pool indices `g`).
fn describe(runs: &[Components], pool: &[(usize, usize)], sim: &[f64], g: &[usize], use_heads: bool) -> Cluster {
    let n = pool.len();
    let pair_sims: Vec<f64> = g.iter().enumerate().flat_map(|(k, &a)| g[k + 1..].iter().map(move |&b| sim[a * n + b])).collect();
    // Align every member to the medoid (most similar to the rest; earliest on ties).
    let total = |a: usize| g.iter().map(|&b| sim[a * n + b]).sum::<f64>();
    let medoid = g.iter().copied().fold(g[0], |m, a| if total(a) > total(m) { a } else { m });
    let (mr, mi) = pool[medoid];
    let med = &runs[mr];
    let (pixels, classes) = (med.inputs, med.outputs);
    let (mut plus, mut minus, mut head) = (vec![0.0f32; pixels], vec![0.0f32; pixels], vec![0.0f32; classes]);
    let mut swapped = Vec::with_capacity(g.len());
    let mut votes = Vec::with_capacity(g.len());
    for &m in g {
        let (r, i) = pool[m];
        let (_, swap) = oriented_similarity(med, mi, &runs[r], i, use_heads);
        let (c, mc) = (&runs[r].items[i], &med.items[mi]);
        let (p, q, h) = if swap { (&c.minus, &c.plus, -1.0) } else { (&c.plus, &c.minus, 1.0) };
        accumulate(&mut plus, p, &mc.plus);
        accumulate(&mut minus, q, &mc.minus);
        let aligned: Vec<f32> = c.head.iter().map(|v| h * v).collect();
        votes.push(crate::model::argmax(aligned.iter().map(|v| v.abs())));
        head.iter_mut().zip(&aligned).for_each(|(s, v)| *s += v / g.len() as f32);
        swapped.push(swap);
    }
    normalise(&mut plus);
    normalise(&mut minus);
    let count = |k: usize| votes.iter().filter(|&&v| v == k).count();
    let class = (0..classes).fold(0, |b, k| if (count(k), head[k].abs()) > (count(b), head[b].abs()) { k } else { b });
    Cluster {
        members: g.iter().map(|&m| pool[m]).collect(),
        swapped,
        support: g.len(),
        mean_similarity: if pair_sims.is_empty() { 1.0 } else { mean(pair_sims.iter().copied()) },
        min_similarity: pair_sims.iter().copied().reduce(f64::min).unwrap_or(1.0),
        plus,
        minus,
        sign: if head[class] < 0.0 { -1.0 } else { 1.0 },
        class_agreement: count(class) as f64 / g.len() as f64,
        class,
        head,
    }
}

/// Adds `x` to `sum`, its sign chosen to agree with `reference` (patterns' signs are free).
fn accumulate(sum: &mut [f32], x: &[f32], reference: &[f32]) {
    let agree: f32 = x.iter().zip(reference).map(|(a, b)| a * b).sum();
    let s = if agree < 0.0 { -1.0 } else { 1.0 };
    sum.iter_mut().zip(x).for_each(|(t, v)| *t += s * v);
}

fn normalise(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 1e-8 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 { 0.0 } else { s / n as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::stability::component_similarity;
    use crate::analysis::testing::{random_components, transform};

    fn cos(a: &[f32], b: impl Iterator<Item = f32>) -> f64 {
        let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
        for (x, y) in a.iter().zip(b) {
            (ab, aa, bb) = (ab + (x * y) as f64, aa + (x * x) as f64, bb + (y * y) as f64);
        }
        ab / (aa * bb).sqrt().max(1e-30)
    }

    #[test]
    fn identical_but_permuted_runs_give_full_support() {
        let x = random_components(21, 8, 2);
        let (p1, p2) = ([5, 2, 7, 0, 1, 3, 6, 4], [1, 0, 3, 2, 7, 6, 5, 4]);
        let flip: Vec<bool> = (0..8).map(|k| k % 2 == 1).collect();
        // Swap only CP components (the last two are symmetric).
        let swap = |p: &[usize]| p.iter().map(|&k| k < 6 && k % 3 != 1).collect::<Vec<_>>();
        let y = transform(&x, &p1, &flip, &swap(&p1));
        let z = transform(&x, &p2, &[true; 8], &swap(&p2));
        let cfg = ConsensusConfig { per_run: 8, ..Default::default() };
        let rep = consensus(&[x.clone(), y, z], &cfg);
        assert_eq!((rep.runs, rep.components, rep.clusters.len()), (3, 24, 8));
        assert!((rep.mean_support_top(8) - 3.0).abs() < 1e-12 && (rep.mean_similarity_top(8) - 1.0).abs() < 1e-5);
        assert!((rep.chosen_mean_support - 3.0).abs() < 1e-12 && rep.chosen.len() == 8);
        for c in &rep.clusters {
            assert_eq!(c.members.iter().map(|m| m.0).collect::<Vec<_>>(), vec![0, 1, 2]);
            let (i, j, k) = (c.members[0].1, c.members[1].1, c.members[2].1);
            assert_eq!((p1[j], p2[k]), (i, i), "cluster {:?}", c.members);
            assert!((c.min_similarity - 1.0).abs() < 1e-5 && (c.class_agreement - 1.0).abs() < 1e-12);
            // The consensus is x's component up to the symmetries, with its full head: a
            // head averaged without alignment would shrink.
            let xi = &x.items[i];
            let id = cos(&c.plus, xi.plus.iter().copied()).abs();
            let sw = cos(&c.plus, xi.minus.iter().copied()).abs();
            let hx: Vec<f32> = xi.head.clone();
            let (same, orient) = if id > sw { (id, 1.0) } else { (sw, -1.0) };
            assert!(same > 1.0 - 1e-5, "patterns {id} / {sw}");
            for (a, b) in c.head.iter().zip(&hx) {
                assert!((a - orient * b).abs() < 1e-5, "head {:?} vs {hx:?}", c.head);
            }
            let (class, sign) = xi.head_class();
            assert_eq!((c.class, c.sign), (class, sign * orient));
        }
    }

    #[test]
    fn unrelated_random_runs_give_mostly_singletons() {
        let runs: Vec<Components> = (0..3).map(|s| random_components(30 + s, 10, 0)).collect();
        let rep = consensus(&runs, &ConsensusConfig { per_run: 10, ..Default::default() });
        let singles = rep.clusters.iter().filter(|c| c.support == 1).count();
        assert!(singles * 10 >= rep.clusters.len() * 9, "{singles} of {}", rep.clusters.len());
        assert_eq!(rep.clusters.iter().map(|c| c.support).sum::<usize>(), 30);
        assert!(rep.clusters.iter().all(|c| c.mean_similarity >= 0.5));
    }

    #[test]
    fn a_cluster_takes_at_most_one_component_per_run() {
        // Run 0 holds the same component twice; run 1 is a copy. Without the constraint the
        // four would form one cluster of "support" 4.
        let mut x = random_components(40, 4, 0);
        x.items[1] = crate::decomp::Component { index: 1, ..x.items[0].clone() };
        assert!((component_similarity(&x, 0, &x, 1, true) - 1.0).abs() < 1e-9);
        let rep = consensus(&[x.clone(), x.clone()], &ConsensusConfig { per_run: 4, min_similarity: 0.5, use_heads: true });
        for c in &rep.clusters {
            let mut r: Vec<usize> = c.members.iter().map(|m| m.0).collect();
            r.dedup();
            assert_eq!(r.len(), c.members.len(), "{:?}", c.members);
        }
        assert_eq!(rep.clusters.len(), 4);
        assert!(rep.clusters.iter().all(|c| c.support == 2));
        // A single run cannot agree with itself.
        assert!(consensus(&[x], &ConsensusConfig::default()).clusters.iter().all(|c| c.support == 1));
    }

    #[test]
    fn reference_selection_caps_classes_then_fills_in_order() {
        let cl = |support: usize, class: usize| Cluster {
            members: vec![],
            swapped: vec![],
            support,
            mean_similarity: 1.0,
            min_similarity: 1.0,
            plus: vec![],
            minus: vec![],
            head: vec![],
            class,
            sign: 1.0,
            class_agreement: 1.0,
        };
        let cs = [cl(3, 0), cl(3, 0), cl(3, 0), cl(2, 1), cl(1, 2), cl(1, 0)];
        assert_eq!(reference_selection(&cs, 4, 2), vec![0, 1, 3, 2]);
        assert_eq!(reference_selection(&cs, 12, 2), vec![0, 1, 3, 2, 4, 5]);
    }
}
