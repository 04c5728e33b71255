//! Reading the kernels' parameter lists out of the PTX text.

use crate::backend::cuda::launch::ParamKind;
/// The entry points of a PTX module and their parameter kinds, in order (`.param .u32`,
/// `.s32`, `.b32` -> 4-byte integer; `.u64`, `.s64`, `.b64` -> 8-byte integer or pointer;
/// `.f32` -> float).
pub fn ptx_params(ptx: &str) -> std::collections::BTreeMap<String, Vec<ParamKind>> {
    let mut out = std::collections::BTreeMap::new();
    let mut cur: Option<String> = None;
    for line in ptx.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix(".visible .entry ") {
            let name = rest.split('(').next().unwrap_or("").trim().to_string();
            out.insert(name.clone(), Vec::new());
            cur = Some(name);
            continue;
        }
        if let Some(name) = &cur {
            if let Some(rest) = t.strip_prefix(".param .") {
                let ty = rest.split_whitespace().next().unwrap_or("");
                let bytes = if ty.ends_with("64") { 8 } else { 4 };
                let float = ty.starts_with('f');
                out.get_mut(name)
                    .expect("entry")
                    .push(ParamKind { bytes, float });
            } else if t.starts_with(')') || t.starts_with('{') {
                cur = None;
            }
        }
    }
    out
}
