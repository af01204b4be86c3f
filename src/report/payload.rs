//! The numbers behind the page's pictures and its draw-a-digit panel. One compact record per
//! run — factors and heads of every component (displayed, then residual), forms, labels,
//! strengths, per-component metrics, each class's heaviest patterns (the concept atlas), the
//! test images that activate each component most, and bilens's logits for the self-check
//! images — read by the component cards, the atlases, the seed analyses' thumbnails and the
//! panel alike; and one record for the study — image shape, colour map, base model, the
//! classes' outlines, and the test images the run records point to, each stored once.
//!
//! The page draws every pattern from these factors, so it grows with the parameters of the
//! study, not with pictures of them.

use std::path::Path;

use anyhow::Result;
use faer::{Mat, MatRef};
use serde_json::{Map, Value, json};

use super::inputs::read_csv;
use super::pack::{self, Precision};
use crate::analysis::describe::{describe, describe_sides};
use crate::data::Dataset;
use crate::decomp::{Component, Components};
use crate::image::ImageShape;
use crate::model::Bilinear;

/// Test images scanned for each component's examples: the first ones of the test set.
pub const EXAMPLE_CANDIDATES: usize = 1000;
/// Examples per component and direction of its activation.
pub const EXAMPLES: usize = 3;
/// Test images in the panel's menu, and how many of them the self-check uses.
pub const MENU_IMAGES: usize = 10;
pub const CHECK_IMAGES: usize = 5;
/// The largest |page − bilens| logit difference the self-check accepts.
pub const TOLERANCE: f64 = 1e-4;
/// How far storing a run compactly may move its logits on the self-check images: a tenth of a
/// logit (digits' logits span several units, so the panel's ranking of classes holds), and the
/// default study's page stays under 6 MB (5.95 MB at 0.05). The panel says how far each run moved.
pub const ROUNDING_BUDGET: f64 = 0.1;
/// The bits a compactly stored factor value may have: the fewest that keep to the budget.
const COMPACT_BITS: std::ops::RangeInclusive<u32> = 8..=12;

/// `components.csv` columns the cards show elsewhere (title, description, head bars, strength line).
const SHOWN_ELSEWHERE: [&str; 9] =
    ["rank", "bank", "index", "form", "strength", "strength_share", "head_class", "head_sign", "description"];

/// A run's components in the page's order: the displayed ones strongest first (numbered as in
/// `components.csv` and in the stability and consensus files), then the residual ones.
pub struct RunComponents {
    pub all: Components,
    pub displayed: usize,
}

impl RunComponents {
    /// From a run folder's `factors.safetensors`.
    pub fn read(dir: &Path) -> Result<Self> {
        let (shown, residual) = crate::pipeline::analyses::run_components(dir)?;
        let (inputs, outputs, displayed) = (shown.inputs, shown.outputs, shown.len());
        Ok(Self { all: Components { items: [shown.items, residual.items].concat(), inputs, outputs }, displayed })
    }

    /// The displayed components alone.
    pub fn displayed(&self) -> Components {
        self.part(0..self.displayed)
    }

    fn part(&self, range: std::ops::Range<usize>) -> Components {
        Components { items: self.all.items[range].to_vec(), ..self.all }
    }
}

/// The test images the page carries, each once: the panel's menu first, then every example.
pub struct ImagePool<'a> {
    pub test: &'a Dataset,
    /// Test-set indices, by position in the pool.
    indices: Vec<usize>,
}

impl<'a> ImagePool<'a> {
    pub fn new(test: &'a Dataset) -> Self {
        let mut pool = Self { test, indices: Vec::new() };
        for i in menu_images(test.labels.as_deref().unwrap_or(&[]), MENU_IMAGES) {
            pool.add(i);
        }
        pool
    }

    /// The pool position of test image `i`, adding it if needed.
    fn add(&mut self, i: usize) -> usize {
        self.indices.iter().position(|&j| j == i).unwrap_or_else(|| {
            self.indices.push(i);
            self.indices.len() - 1
        })
    }

    /// Test-set indices of the self-check images (the first ones of the menu).
    fn check(&self) -> &[usize] {
        &self.indices[..CHECK_IMAGES.min(self.indices.len()).min(MENU_IMAGES)]
    }

    /// The self-check images as a batch (`n × pixels`).
    fn check_batch(&self) -> Mat<f32> {
        let check = self.check();
        Mat::from_fn(check.len(), self.test.n_inputs, |k, p| self.test.image(check[k])[p])
    }

    pub fn json(&self) -> Value {
        let pixels: Vec<u8> =
            self.indices.iter().flat_map(|&i| self.test.image(i).iter().map(|&p| (p * 255.0).round().clamp(0.0, 255.0) as u8)).collect();
        json!({
            "pixels": pack::bytes(&pixels),
            "index": self.indices,
            "label": self.indices.iter().map(|&i| self.test.label(i)).collect::<Vec<_>>(),
            "menu": (0..MENU_IMAGES.min(self.indices.len())).collect::<Vec<_>>(),
            "check": (0..self.check().len()).collect::<Vec<_>>(),
        })
    }
}

/// Indices of `n` test images: the first of each class in turn, then the next ones in order.
fn menu_images(labels: &[u8], n: usize) -> Vec<usize> {
    let mut picked: Vec<usize> = Vec::new();
    let classes = labels.iter().copied().max().map_or(0, |m| m as usize + 1);
    for c in 0..classes {
        if let Some(i) = labels.iter().position(|&l| l as usize == c) {
            picked.push(i);
        }
    }
    picked.truncate(n);
    picked.extend((0..labels.len()).filter(|i| !picked.contains(i)).take(n.saturating_sub(picked.len())).collect::<Vec<_>>());
    picked
}

/// What a run's data recorded about its inputs and outputs.
#[derive(Clone, Copy, Default)]
pub struct RunData<'a> {
    /// The image shape of the run's inputs (without one, patterns are drawn as strips).
    pub shape: Option<ImageShape>,
    /// The classes' names (without them, classes are called by their index).
    pub class_names: Option<&'a [String]>,
}

/// One run's record. `pool` (test images of the run's size) adds the examples and the
/// self-check; `bias` is the base model's output bias (the decomposition covers only the
/// interaction tensor).
pub fn run(
    id: &str,
    dir: &Path,
    c: &RunComponents,
    precision: Precision,
    bias: &[f32],
    data: RunData<'_>,
    pool: Option<&mut ImagePool>,
) -> Value {
    let RunData { shape, class_names: names } = data;
    let all = &c.all;
    let rows = |get: fn(&Component) -> &Vec<f32>, keep: fn(&Component) -> bool| {
        all.iter().filter(|k| keep(k)).flat_map(|k| get(k).iter().copied()).collect::<Vec<f32>>()
    };
    let mut labels: Vec<String> = (1..=c.displayed).map(|k| format!("#{k}")).collect();
    labels.extend((1..=all.len() - c.displayed).map(|k| format!("residual #{k}")));
    // Strength shares within each role, as components.csv has them for displayed components.
    let total = |range: std::ops::Range<usize>| all.items[range].iter().map(|k| k.strength).sum::<f32>().max(1e-12);
    let (shown_total, residual_total) = (total(0..c.displayed), total(c.displayed..all.len()));
    let share: Vec<Value> = all
        .iter()
        .enumerate()
        .map(|(r, k)| round4((k.strength / if r < c.displayed { shown_total } else { residual_total }) as f64))
        .collect();
    let (columns, metrics) = component_metrics(dir, c, shape, names);
    let mut out = json!({
        "id": id,
        "precision": precision.name(),
        "inputs": all.inputs,
        "classes": all.outputs,
        "n": all.len(),
        "displayed": c.displayed,
        "a": pack::floats(&rows(|k| &k.a, |_| true), all.inputs, precision),
        // Only the components whose b is a factor of its own (b = a for symmetric ones): a
        // dictionary of symmetric concepts costs half.
        "b": pack::floats(&rows(|k| &k.b, |k| k.form.has_second_factor()), all.inputs, precision),
        "heads": pack::floats(&rows(|k| &k.head, |_| true), all.outputs, Precision::Full),
        "bias": bias.iter().map(|&b| b as f64).collect::<Vec<_>>(),
        "form": all.iter().map(|k| k.form.as_str()).collect::<Vec<_>>(),
        "label": labels,
        "description": pack::lines(&all.iter().map(|k| describe(k, shape, names)).collect::<Vec<_>>()),
        // Each component's plus and minus patterns in words, for the draw panel's explanation,
        // which orders them by what the input matched (`describe_on`).
        "sides": pack::lines(&all.iter().flat_map(|k| describe_sides(k, shape)).collect::<Vec<_>>()),
        "class_names": names,
        "share": share,
        "columns": columns,
        "metrics": metrics,
        "height": shape.map_or(1, |s| s.height),
        "width": shape.map_or(all.inputs, |s| s.width),
    });
    if shape.is_some() {
        let (cells, words) = atlas(&c.displayed(), shape);
        out["atlas"] = cells;
        out["atlas_words"] = words;
    }
    if let Some(pool) = pool.filter(|p| p.test.n_inputs == all.inputs) {
        out["examples"] = examples(all, pool);
        let x = pool.check_batch();
        let (page, exact) = (exact_logits(&rounded(all, precision), x.as_ref(), bias), exact_logits(all, x.as_ref(), bias));
        out["rounding"] = json!(largest_difference(&page, &exact));
        out["check"] = json!(page);
    }
    out
}

/// How a run that is not the main one is stored: in the fewest bits of [`COMPACT_BITS`] that
/// move its logits on the self-check images by at most `budget` ([`ROUNDING_BUDGET`] in the
/// page), else in the most (also when no test image fits the run, so that nothing measures it).
pub fn compact_precision(c: &Components, bias: &[f32], pool: &ImagePool, budget: f64) -> Precision {
    let most = Precision::Fixed(*COMPACT_BITS.end());
    if pool.test.n_inputs != c.inputs {
        return most;
    }
    let x = pool.check_batch();
    let exact = exact_logits(c, x.as_ref(), bias);
    COMPACT_BITS
        .map(Precision::Fixed)
        .find(|&p| largest_difference(&exact_logits(&rounded(c, p), x.as_ref(), bias), &exact) <= budget)
        .unwrap_or(most)
}

fn largest_difference(x: &[Vec<f64>], y: &[Vec<f64>]) -> f64 {
    x.iter().flatten().zip(y.iter().flatten()).map(|(p, e)| (p - e).abs()).fold(0.0, f64::max)
}

/// Logits of `c` (every component, plus `bias`) for each row of `x`, in f64 from its f32
/// numbers: bilens's model computed as exactly as the page computes it, so the self-check
/// measures the page's formula, not rounding in long f32 sums.
fn exact_logits(c: &Components, x: MatRef<'_, f32>, bias: &[f32]) -> Vec<Vec<f64>> {
    (0..x.nrows())
        .map(|i| {
            let mut z: Vec<f64> = bias.iter().map(|&b| b as f64).collect();
            for k in c.iter() {
                let dot = |v: &[f32]| v.iter().enumerate().map(|(p, &w)| w as f64 * x[(i, p)] as f64).sum::<f64>();
                let act = k.form.activation(dot(&k.a), dot(&k.b));
                z.iter_mut().zip(&k.head).for_each(|(zc, &h)| *zc += h as f64 * act);
            }
            z
        })
        .collect()
}

/// The components with their factors as the page stores them.
fn rounded(c: &Components, precision: Precision) -> Components {
    let round = |v: &[f32]| precision.round(v, v.len());
    Components { items: c.iter().map(|k| Component { a: round(&k.a), b: round(&k.b), ..k.clone() }).collect(), ..*c }
}

/// The concept atlas of the displayed components `shown` as the run folder's `atlas.png` has
/// it: per class, `[component, 1 for its minus pattern else 0, signed share]` of its heaviest
/// patterns, and every one of them in words (class after class, packed). The page draws them
/// from the factors, over the outlines of [`outlines`].
fn atlas(shown: &Components, shape: Option<ImageShape>) -> (Value, Value) {
    let classes = crate::analysis::atlas::heaviest(shown, crate::analysis::atlas::PER_CLASS);
    let cells =
        classes.iter().map(|entries| entries.iter().map(|e| json!([e.component, u8::from(e.minus), round4(e.share)])).collect::<Vec<_>>());
    let words: Vec<String> =
        classes.iter().flatten().map(|e| describe_sides(&shown.items[e.component], shape)[usize::from(e.minus)].clone()).collect();
    (cells.collect(), pack::lines(&words))
}

/// Per class, the pixels inside the outline of its mean training digit (1) or not (0), classes
/// one after the other; `None` without labelled training images.
pub fn outlines(train: &Dataset) -> Option<Value> {
    let labels = train.labels.as_deref().filter(|l| !l.is_empty())?;
    let mask: Vec<u8> = (0..train.n_classes).flat_map(|c| crate::analysis::atlas::outline(train, labels, c)).map(u8::from).collect();
    Some(pack::bytes(&mask))
}

/// Per component `[[pool positions of the most positive activations], [most negative],
/// [their activations], [theirs]]` over the first test images.
fn examples(all: &Components, pool: &mut ImagePool) -> Value {
    let n = pool.test.len().min(EXAMPLE_CANDIDATES);
    let act = all.activations(pool.test.x().subrows(0, n));
    let picks: Vec<Value> = (0..all.len())
        .map(|r| {
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&i, &j| act[(j, r)].total_cmp(&act[(i, r)]));
            let pos: Vec<usize> = order.iter().copied().take_while(|&i| act[(i, r)] > 0.0).take(EXAMPLES).collect();
            let neg: Vec<usize> = order.iter().rev().copied().take_while(|&i| act[(i, r)] < 0.0).take(EXAMPLES).collect();
            let values = |is: &[usize]| is.iter().map(|&i| round4(act[(i, r)] as f64)).collect::<Vec<_>>();
            json!([
                pos.iter().map(|&i| pool.add(i)).collect::<Vec<_>>(),
                neg.iter().map(|&i| pool.add(i)).collect::<Vec<_>>(),
                values(&pos),
                values(&neg)
            ])
        })
        .collect();
    Value::from(picks)
}

/// Column names and one row per component of the per-component measures: the run's
/// `components.csv` for displayed components (computed alike when it is missing or stale),
/// computed here for residual ones, which the run does not record.
fn component_metrics(dir: &Path, c: &RunComponents, shape: Option<ImageShape>, names: Option<&[String]>) -> (Vec<String>, Vec<Vec<Value>>) {
    let computed = |part: Components| -> Vec<Map<String, Value>> {
        crate::analysis::table::component_table(&part, shape, names)
            .iter()
            .filter_map(|row| match serde_json::to_value(row) {
                Ok(Value::Object(m)) => Some(m),
                _ => None,
            })
            .collect()
    };
    let recorded = match read_csv(&dir.join("components.csv")) {
        Ok((headers, rows)) if rows.len() == c.displayed => {
            rows.into_iter().map(|row| headers.iter().cloned().zip(row).collect::<Map<String, Value>>()).collect()
        }
        _ => computed(c.displayed()),
    };
    let mut maps: Vec<Map<String, Value>> = recorded.into_iter().chain(computed(c.part(c.displayed..c.all.len()))).collect();
    // A form without a minus pattern has no minus measures (older components.csv files hold 0).
    for (m, _) in maps.iter_mut().zip(c.all.iter()).filter(|(_, k)| !k.form.has_minus()) {
        m.retain(|name, _| !name.ends_with("_minus"));
    }
    let mut columns: Vec<String> = Vec::new();
    for key in maps.iter().flat_map(|m| m.keys()) {
        if !columns.contains(key) && !SHOWN_ELSEWHERE.contains(&key.as_str()) {
            columns.push(key.clone());
        }
    }
    let cell = |v: Option<&Value>| match v {
        Some(Value::Number(n)) => n.as_f64().map_or(Value::Null, round4),
        Some(Value::String(s)) if !s.is_empty() => Value::from(s.as_str()),
        _ => Value::Null,
    };
    let rows = maps.iter().map(|m| columns.iter().map(|k| cell(m.get(k))).collect()).collect();
    (columns, rows)
}

/// The base model's weights at full precision (the page computes its logits beside the
/// decomposition's) and bilens's logits for the self-check images; `None` when it does not
/// read the pool's images.
pub fn base(model: &Bilinear, pool: &ImagePool) -> Option<Value> {
    let matrix = |m: &Mat<f32>| {
        pack::floats(&(0..m.nrows()).flat_map(|i| (0..m.ncols()).map(move |j| m[(i, j)])).collect::<Vec<_>>(), m.ncols(), Precision::Full)
    };
    let embed = model.w_e.as_ref();
    let inputs = embed.map_or(model.w_l.ncols(), |e| e.ncols());
    if inputs != pool.test.n_inputs {
        return None;
    }
    Some(json!({
        "inputs": inputs,
        "embed": embed.map(matrix),
        "width": model.w_l.ncols(),
        "hidden": model.w_l.nrows(),
        "classes": model.w_u.nrows(),
        "left": matrix(&model.w_l),
        "right": matrix(&model.w_r),
        "unembed": matrix(&model.w_u),
        "bias": model.bias.iter().map(|&b| b as f64).collect::<Vec<_>>(),
        "check": rows_json(model.logits(pool.check_batch().as_ref()).as_ref()),
    }))
}

/// A matrix as rows of exact numbers (f32 widened to f64 prints exactly).
fn rows_json(m: MatRef<'_, f32>) -> Value {
    (0..m.nrows()).map(|i| (0..m.ncols()).map(|j| m[(i, j)] as f64).collect::<Vec<f64>>()).collect()
}

/// A measure with 4 significant digits: enough to read, short in the page.
fn round4(v: f64) -> Value {
    if !v.is_finite() {
        return Value::Null;
    }
    format!("{v:.3e}").parse::<f64>().map_or(Value::Null, Value::from)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::decomp::{Form, Role};
    use crate::io::tensors::Named;
    use crate::report::pack::tests::unpack;
    use crate::scratch::Scratch;

    /// A study of 28×28 images with two runs of three banks (CP displayed, split displayed,
    /// symmetric residual) and a base model with a non-zero bias.
    pub(crate) fn synthetic_study(name: &str) -> Scratch {
        synthetic_study_of(name, crate::image::ImageShape::MNIST)
    }

    /// [`synthetic_study`] for images of `shape` (the runs record it).
    pub(crate) fn synthetic_study_of(name: &str, shape: crate::image::ImageShape) -> Scratch {
        let dir = Scratch::new(&format!("report-payload-{name}"));
        let mut rng = crate::linalg::rng(7);
        for id in ["r__seed=0", "r__seed=1"] {
            let run = dir.join("runs").join(id);
            std::fs::create_dir_all(&run).unwrap();
            let m = |rows, cols, rng: &mut _| crate::linalg::randn(rng, rows, cols, 0.05);
            let mats: Vec<(String, Mat<f32>)> = (0..3)
                .flat_map(|i| {
                    [
                        (format!("bank{i}.a"), m(shape.pixels(), 4, &mut rng)),
                        (format!("bank{i}.b"), m(shape.pixels(), 4, &mut rng)),
                        (format!("bank{i}.heads"), m(10, 4, &mut rng)),
                    ]
                })
                .collect();
            let named: Vec<Named> = mats.iter().map(|(n, mat)| Named::matrix(n, mat.as_ref())).collect();
            let banks =
                serde_json::to_string(&[(Form::Cp, Role::Displayed), (Form::Split, Role::Displayed), (Form::Symmetric, Role::Residual)])
                    .unwrap();
            crate::io::tensors::write(&run.join("factors.safetensors"), &named, &[("banks".to_string(), banks)].into()).unwrap();
            crate::io::write_json(&run.join("run.json"), &json!({ "data": { "shape": shape } })).unwrap();
        }
        std::fs::write(
            dir.join("results.json"),
            r#"[{"run_id":"r__seed=0","preset":"r","seed":0,"overrides":""},{"run_id":"r__seed=1","preset":"r","seed":1,"overrides":""}]"#,
        )
        .unwrap();
        let cfg = crate::model::ModelConfig { n_inputs: shape.pixels(), n_embed: Some(8), n_hidden: 8, n_outputs: 10 };
        let mut model = crate::model::Bilinear::init(cfg, &mut rng);
        model.bias = (0..10).map(|c| c as f32 * 0.25 - 1.0).collect();
        crate::model::save_model(&model, &dir.join("base/model.safetensors"), &Default::default()).unwrap();
        dir
    }

    /// The page's formula, in f64 from a run record alone: `act_r` from the form, then
    /// `logit_c = bias_c + Σ_r heads[r][c] act_r`.
    fn page_logits(p: &Value, bias: &[f64], x: &[f64]) -> Vec<f64> {
        let (a, b, heads) = (unpack(&p["a"]), unpack(&p["b"]), unpack(&p["heads"]));
        let (n, classes, inputs) = (p["n"].as_u64().unwrap() as usize, p["classes"].as_u64().unwrap() as usize, x.len());
        let mut z = bias.to_vec();
        let mut with_b = 0;
        for r in 0..n {
            let dot = |f: &[f64], row: usize| (0..inputs).map(|i| f[row * inputs + i] * x[i]).sum::<f64>();
            let sa = dot(&a, r);
            let act = match p["form"][r].as_str().unwrap() {
                "symmetric" => sa * sa,
                form => {
                    let sb = dot(&b, with_b);
                    with_b += 1;
                    if form == "cp" { sa * sb } else { sa * sa - sb * sb }
                }
            };
            (0..classes).for_each(|c| z[c] += heads[r * classes + c] * act);
        }
        z
    }

    #[test]
    fn run_records_reproduce_bilens_logits_at_both_precisions() {
        let dir = synthetic_study("payload");
        let test = crate::data::embedded().test;
        let model = crate::model::load_model(&dir.join("base/model.safetensors")).unwrap();
        let c = RunComponents::read(&dir.join("runs/r__seed=0")).unwrap();
        assert_eq!((c.all.len(), c.displayed), (12, 8));
        assert!(c.all.items[..8].iter().all(|k| k.role == Role::Displayed) && c.all.items[8].role == Role::Residual, "displayed first");
        let bias: Vec<f64> = model.bias.iter().map(|&b| b as f64).collect();
        for precision in [Precision::Full, Precision::Fixed(12)] {
            let mut pool = ImagePool::new(&test);
            let p = run(
                "r__seed=0",
                &dir,
                &c,
                precision,
                &model.bias,
                RunData { shape: Some(crate::image::ImageShape::MNIST), class_names: None },
                Some(&mut pool),
            );
            let check = pool.check();
            assert_eq!(p["check"].as_array().unwrap().len(), CHECK_IMAGES);
            for (k, &i) in check.iter().enumerate() {
                let x: Vec<f64> = test.image(i).iter().map(|&v| v as f64).collect();
                let exact = c.all.logits(crate::linalg::row_major(test.image(i), 1, 784));
                let z = page_logits(&p, &bias, &x);
                for (cls, &zc) in z.iter().enumerate() {
                    let want = p["check"][k][cls].as_f64().unwrap();
                    assert!((zc - want).abs() <= TOLERANCE, "{precision:?} class {cls}: page formula {zc}, bilens {want}");
                    let full = exact[(0, cls)] as f64 + bias[cls];
                    assert!((want - full).abs() <= p["rounding"].as_f64().unwrap() + 1e-6, "rounding bound");
                }
            }
            let rounding = p["rounding"].as_f64().unwrap();
            match precision {
                Precision::Full => assert_eq!(rounding, 0.0),
                Precision::Fixed(_) => assert!(rounding > 0.0 && rounding < 1e-2, "12-bit factors move logits a little: {rounding}"),
            }
            // Every component has examples in the pool, of the right sign.
            let examples = p["examples"].as_array().unwrap();
            assert_eq!(examples.len(), 12);
            assert!(examples.iter().all(|e| e[2].as_array().unwrap().iter().all(|v| v.as_f64().unwrap() > 0.0)));
            assert!(examples.iter().any(|e| !e[1].as_array().unwrap().is_empty()), "CP components have negative examples");
            assert!(examples[8..].iter().all(|e| e[1].as_array().unwrap().is_empty()), "symmetric ones have none");
            assert_eq!(p["metrics"].as_array().unwrap().len(), 12, "residual components are measured too");
        }
    }

    #[test]
    fn symmetric_components_store_one_factor_and_compact_runs_the_fewest_bits_in_budget() {
        let dir = synthetic_study("compact");
        let test = crate::data::embedded().test;
        let model = crate::model::load_model(&dir.join("base/model.safetensors")).unwrap();
        let c = RunComponents::read(&dir.join("runs/r__seed=0")).unwrap();
        let mut pool = ImagePool::new(&test);
        let moved = |bits| {
            let x = pool.check_batch();
            let exact = exact_logits(&c.all, x.as_ref(), &model.bias);
            largest_difference(&exact_logits(&rounded(&c.all, Precision::Fixed(bits)), x.as_ref(), &model.bias), &exact)
        };
        let (at9, at10) = (moved(9), moved(10));
        assert!(at10 < at9, "fewer bits move the logits more: {at10} at 10 bits, {at9} at 9");
        assert_eq!(compact_precision(&c.all, &model.bias, &pool, at10), Precision::Fixed(10), "the fewest bits within the budget");
        assert_eq!(compact_precision(&c.all, &model.bias, &pool, 0.0), Precision::Fixed(12), "the most when none is within it");
        assert_eq!(compact_precision(&c.all, &model.bias, &pool, f64::INFINITY), Precision::Fixed(8));
        let p = run(
            "r__seed=0",
            &dir,
            &c,
            Precision::Fixed(10),
            &model.bias,
            RunData { shape: Some(crate::image::ImageShape::MNIST), class_names: None },
            Some(&mut pool),
        );
        assert!((p["rounding"].as_f64().unwrap() - at10).abs() < 1e-12, "the record says how far its logits moved");
        let symmetric = c.all.iter().filter(|k| k.form == Form::Symmetric).count();
        assert_eq!((symmetric, unpack(&p["a"]).len()), (4, 12 * 784));
        assert_eq!(unpack(&p["b"]).len(), 8 * 784, "a symmetric component's b (= a) is not stored");
        assert!(
            p["metrics"].as_array().unwrap()[8..].iter().all(|row| {
                let columns = p["columns"].as_array().unwrap();
                columns.iter().zip(row.as_array().unwrap()).all(|(name, v)| !name.as_str().unwrap().ends_with("_minus") || v.is_null())
            }),
            "nor are measures of its absent minus pattern"
        );
    }

    #[test]
    fn the_base_record_reproduces_the_base_model() {
        let dir = synthetic_study("base");
        let test = crate::data::embedded().test;
        let model = crate::model::load_model(&dir.join("base/model.safetensors")).unwrap();
        let pool = ImagePool::new(&test);
        let p = base(&model, &pool).unwrap();
        let (e, l, r, u) = (unpack(&p["embed"]), unpack(&p["left"]), unpack(&p["right"]), unpack(&p["unembed"]));
        let (inputs, width, hidden, classes) = (784, 8, 8, 10);
        for (k, &i) in pool.check().iter().enumerate() {
            let x = test.image(i);
            let h: Vec<f64> = (0..width).map(|j| (0..inputs).map(|q| e[j * inputs + q] * x[q] as f64).sum()).collect();
            let proj = |w: &[f64], o: usize| (0..width).map(|j| w[o * width + j] * h[j]).sum::<f64>();
            let y: Vec<f64> = (0..hidden).map(|o| proj(&l, o) * proj(&r, o)).collect();
            for c in 0..classes {
                let z = p["bias"][c].as_f64().unwrap() + (0..hidden).map(|o| u[c * hidden + o] * y[o]).sum::<f64>();
                assert!((z - p["check"][k][c].as_f64().unwrap()).abs() <= TOLERANCE);
            }
        }
    }

    #[test]
    fn the_pool_stores_each_image_once_menu_first() {
        let labels = [3u8, 3, 1, 0, 2, 1];
        assert_eq!(menu_images(&labels, 4), vec![3, 2, 4, 0]);
        assert_eq!(menu_images(&labels, 6), vec![3, 2, 4, 0, 1, 5]);
        assert_eq!(menu_images(&labels, 10).len(), 6);
        let test = crate::data::embedded().test;
        let mut pool = ImagePool::new(&test);
        let first = pool.indices[0];
        assert_eq!(pool.add(first), 0);
        assert_eq!(pool.add(1999), MENU_IMAGES);
        let json = pool.json();
        assert_eq!(unpack(&json["pixels"]).len(), (MENU_IMAGES + 1) * 784);
        assert_eq!(json["label"][0], 0, "the menu starts with the first zero");
    }
}
