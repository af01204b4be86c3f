//! Class names: from a file of one name a line (`--class-names FILE`, or `class_names.txt` in
//! a data folder), or known for a data set recognised by its checksum (Fashion-MNIST, whose
//! labels 0–9 are clothes, not digits). Without names, classes are called by their index.

use std::path::Path;

use super::DataError;

/// The checksum ([`super::DataSplit::checksum`]) of Fashion-MNIST's four standard files.
const FASHION_MNIST_SHA256: &str = "14410854cf7a289477dcfc7df3f8ec24741e281cdcc425ede0d9a748ca630214";

/// Fashion-MNIST's classes, in label order.
pub const FASHION_MNIST: [&str; 10] =
    ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

/// The file a data folder may hold its class names in.
pub const FILE_NAME: &str = "class_names.txt";

/// The names a data set is known by: `folder/class_names.txt`, else the names of a data set
/// recognised by `checksum`.
pub fn known(folder: Option<&Path>, checksum: &str) -> Result<Option<Vec<String>>, DataError> {
    if let Some(file) = folder.map(|f| f.join(FILE_NAME)).filter(|f| f.is_file()) {
        return read(&file).map(Some);
    }
    Ok((checksum == FASHION_MNIST_SHA256).then(|| FASHION_MNIST.iter().map(|s| s.to_string()).collect()))
}

/// One name a line (blank lines at the end ignored); an empty file or a blank name is an error.
pub fn read(file: &Path) -> Result<Vec<String>, DataError> {
    let invalid = |message: String| DataError::Array { file: file.to_path_buf(), message };
    let text = std::fs::read_to_string(file).map_err(|e| invalid(format!("cannot read the class names: {e}")))?;
    // A byte-order mark (as Windows editors write) is not part of the first name.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let names: Vec<String> = text.trim_end().lines().map(|l| l.trim().to_string()).collect();
    if names.is_empty() || names[0].is_empty() {
        return Err(invalid("no class names (one name a line)".into()));
    }
    if let Some(line) = names.iter().position(String::is_empty) {
        return Err(invalid(format!("line {} is blank: every class needs a name", line + 1)));
    }
    Ok(names)
}
