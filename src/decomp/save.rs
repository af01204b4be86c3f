//! Fitted factors in and out of safetensors: each bank's effective `a`, `b` and heads, so
//! any metric or figure can be recomputed without refitting (and read from PyTorch).

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result};
use faer::Mat;

use super::Decomposition;
use super::bank::{Bank, Form, Head, HeadRule, Role};
use super::pattern::{Base, Pattern};
use crate::tensor_file::{Named, TensorFile};

/// Writes `bank{i}.a`, `bank{i}.b`, `bank{i}.heads` (`[I, r]`, `[I, r]`, `[C, r]`) and the
/// banks' forms and roles as metadata; `extra` metadata (e.g. the recipe) is added.
pub fn save_factors(d: &mut Decomposition, path: &Path, mut extra: HashMap<String, String>) -> Result<()> {
    let factors = d.forward();
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
    crate::tensor_file::write(path, &tensors, extra)
}

/// Reads factors written by [`save_factors`] as a decomposition of fixed (free, dense-head)
/// banks: enough for every metric, figure and analysis.
pub fn load_factors(path: &Path) -> Result<Decomposition> {
    let file = TensorFile::read(path)?;
    let banks: Vec<(Form, Role)> = serde_json::from_str(file.metadata.get("banks").context("factors file has no 'banks' metadata")?)
        .with_context(|| format!("bad 'banks' metadata in {}", path.display()))?;
    let mut out = Vec::new();
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
        let free = |m: Mat<f32>| Pattern::new(Base::Free { raw: m, passes: 0 });
        out.push(Bank {
            form,
            role,
            a: free(a),
            b: (form != Form::Symmetric).then(|| free(b)),
            head: Head { raw: heads, rule: HeadRule::Dense },
            anchors: None,
            anchor_ids: None,
            anchor_names: Vec::new(),
        });
    }
    anyhow::ensure!(!out.is_empty(), "{} holds no banks", path.display());
    Ok(Decomposition { banks: out })
}
