//! Fitted factors in and out of safetensors: each bank's effective `a`, `b` and heads, so
//! any metric or figure can be recomputed without refitting (and read from PyTorch).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use faer::Mat;

use super::Decomposition;
use super::bank::{Bank, Head, HeadRule};
use super::form::{Form, Role};
use super::pattern::Pattern;
use crate::io::tensors::{Named, TensorFile};

/// Writes `bank{i}.a`, `bank{i}.b`, `bank{i}.heads` (`[I, r]`, `[I, r]`, `[C, r]`) and the
/// banks' forms and roles as metadata; `extra` metadata (e.g. the recipe) is added.
pub fn save_factors(d: &Decomposition, path: &Path, mut extra: BTreeMap<String, String>) -> Result<()> {
    let factors = d.factors();
    let names: Vec<[String; 3]> =
        (0..factors.len()).map(|i| [format!("bank{i}.a"), format!("bank{i}.b"), format!("bank{i}.heads")]).collect();
    let mut tensors = Vec::new();
    for (f, n) in factors.iter().zip(&names) {
        tensors.push(Named::matrix(&n[0], f.a.as_ref()));
        tensors.push(Named::matrix(&n[1], f.b.as_ref()));
        tensors.push(Named::matrix(&n[2], f.d.as_ref()));
    }
    let banks: Vec<(Form, Role)> = d.banks.iter().map(|b| (b.form, b.role)).collect();
    extra.insert("banks".to_string(), serde_json::to_string(&banks)?);
    crate::io::tensors::write(path, &tensors, &extra)
}

/// Reads factors written by [`save_factors`] as a decomposition of fixed (free, dense-head)
/// banks: enough for every metric, figure and analysis.
pub fn load_factors(path: &Path) -> Result<Decomposition> {
    let file = TensorFile::read(path)?;
    let banks: Vec<(Form, Role)> = serde_json::from_str(file.metadata.get("banks").context("factors file has no 'banks' metadata")?)
        .with_context(|| format!("bad 'banks' metadata in {}", path.display()))?;
    let mut out = Vec::new();
    let mut first = None;
    for (i, (form, role)) in banks.into_iter().enumerate() {
        let get = |name: &str| -> Result<Mat<f32>> {
            let t = file.get(&format!("bank{i}.{name}"))?;
            anyhow::ensure!(t.shape.len() == 2, "bank{i}.{name} must be 2-D, found {:?}", t.shape);
            t.matrix(t.shape[0], t.shape[1])
        };
        let (a, b, heads) = (get("a")?, get("b")?, get("heads")?);
        anyhow::ensure!(
            a.ncols() == heads.ncols() && a.nrows() == b.nrows() && a.ncols() == b.ncols(),
            "bank{i}: inconsistent factor shapes in {}",
            path.display()
        );
        let sizes = (a.nrows(), heads.nrows());
        anyhow::ensure!(
            *first.get_or_insert(sizes) == sizes,
            "{}: bank{i} has {} inputs and {} outputs, the first bank {:?}",
            path.display(),
            sizes.0,
            sizes.1,
            first
        );
        out.push(Bank {
            form,
            role,
            a: Pattern::fixed(a),
            b: form.has_second_factor().then(|| Pattern::fixed(b)),
            head: Head { raw: heads, rule: HeadRule::Dense },
            anchors: None,
        });
    }
    anyhow::ensure!(!out.is_empty(), "{} holds no banks", path.display());
    Ok(Decomposition { banks: out })
}
