//! Which kind of output folder a path is, told by the files in it.

use super::report::FolderKind;
use crate::error::{Error, Result};
use std::path::Path;

/// The modulus of a `p_PPP` folder name.
fn modulus_of(dir: &Path) -> Option<usize> {
    let name = dir.file_name()?.to_str()?;
    name.strip_prefix("p_")?.parse().ok()
}

/// Recognises the kind of `modadd` output folder `dir` is, by the files in it (see the module docs).
/// Errors: [`Error::Io`] (`NotFound`) naming the folder and the files looked for.
pub fn detect(dir: &Path) -> Result<FolderKind> {
    if !dir.is_dir() {
        return Err(Error::io(
            dir,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such folder"),
        ));
    }
    let has = |f: &str| dir.join(f).is_file();
    if has("figures.csv") {
        return Ok(FolderKind::Modulus { p: modulus_of(dir) });
    }
    let mut moduli = vec![];
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let path = e.path();
            if let Some(p) = modulus_of(&path) {
                if path.join("figures.csv").is_file() {
                    moduli.push((p, path));
                }
            }
        }
    }
    if !moduli.is_empty() {
        moduli.sort();
        return Ok(FolderKind::Reproduce { moduli });
    }
    if has("training_log.csv") {
        return Ok(FolderKind::Train);
    }
    if has("spectrum.csv") {
        return Ok(FolderKind::Analyze);
    }
    if has("accuracy_by_width.csv") {
        return Ok(FolderKind::ClosedForm);
    }
    if has("trajectories.csv") || has("contour.csv") {
        return Ok(FolderKind::Ode);
    }
    if has("predictions.csv") || has("race.csv") {
        return Ok(FolderKind::Lottery);
    }
    Err(Error::io(
        dir,
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "not a modadd output folder: found none of figures.csv or p_PPP/figures.csv (reproduce), training_log.csv (train), spectrum.csv (analyze), accuracy_by_width.csv (closed-form), trajectories.csv or contour.csv (ode), predictions.csv or race.csv (lottery)",
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detect_names_what_it_looked_for() {
        let d = tempfile::tempdir().unwrap();
        let e = detect(d.path()).unwrap_err();
        assert!(e.to_string().contains("training_log.csv"), "{e}");
        std::fs::write(d.path().join("contour.csv"), "x\n").unwrap();
        assert_eq!(detect(d.path()).unwrap(), FolderKind::Ode);
        let p = d.path().join("p_011");
        std::fs::create_dir(&p).unwrap();
        std::fs::write(p.join("figures.csv"), "figure,path,columns\n").unwrap();
        assert_eq!(detect(&p).unwrap(), FolderKind::Modulus { p: Some(11) });
        assert_eq!(
            detect(d.path()).unwrap(),
            FolderKind::Reproduce {
                moduli: vec![(11, p.clone())]
            }
        );
    }
}
