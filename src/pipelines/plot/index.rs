//! `index.html`: every figure of a folder with its caption and data files, or the list of moduli
//! of a multi-modulus `reproduce` folder. Plain HTML and CSS: no JavaScript, nothing fetched.

use super::report::PlottedFigure;
use super::svg::escape;
use std::fmt::Write as _;

const STYLE: &str =
    "body{font-family:sans-serif;max-width:1400px;margin:1.5em auto;padding:0 1em;color:#222}\
figure{margin:2em 0;border-top:1px solid #ccc;padding-top:1em}\
img{max-width:100%;height:auto;display:block;margin:auto}\
figcaption{margin-top:.6em;line-height:1.4}code{background:#f3f3f3;padding:0 .2em}\
nav li{margin:.15em 0}";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{t}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{t}</h1>\n{body}</body>\n</html>\n",
        t = escape(title)
    )
}

/// The index of one folder's figures (`file` names relative to the index), plus the rows of
/// `figures.csv` that were not drawn and why.
pub fn figures_page(
    title: &str,
    source: &str,
    figs: &[PlottedFigure],
    skipped: &[(String, String)],
) -> String {
    let mut b = String::new();
    let _ = writeln!(
        b,
        "<p>Figures drawn by <code>modadd plot</code> from the CSV files in <code>{}</code>. Each caption names the files it was drawn from (relative to that folder).</p>\n<nav><ol>",
        escape(source)
    );
    for (i, f) in figs.iter().enumerate() {
        let _ = writeln!(
            b,
            "<li><a href=\"#fig{}\">{}</a></li>",
            i + 1,
            escape(&f.title)
        );
    }
    b.push_str("</ol></nav>\n");
    for (i, f) in figs.iter().enumerate() {
        let name = f
            .file
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let data = f
            .sources
            .iter()
            .map(|s| format!("<code>{}</code>", escape(&s.display().to_string())))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            b,
            "<figure id=\"fig{n}\">\n<img src=\"{src}\" alt=\"{alt}\">\n<figcaption><b>Figure {n}. {alt}.</b> {cap} <br>Data: {data}. File: <a href=\"{src}\"><code>{src}</code></a>.</figcaption>\n</figure>",
            n = i + 1,
            src = escape(&name),
            alt = escape(&f.title),
            cap = escape(&f.caption),
        );
    }
    if !skipped.is_empty() {
        b.push_str("<h2>Not drawn</h2>\n<ul>\n");
        for (what, why) in skipped {
            let _ = writeln!(b, "<li><code>{}</code>: {}</li>", escape(what), escape(why));
        }
        b.push_str("</ul>\n");
    }
    page(title, &b)
}

/// The index of a multi-modulus folder: one link per modulus folder (`p_PPP/index.html`).
pub fn moduli_page(title: &str, source: &str, moduli: &[(usize, String, usize)]) -> String {
    let mut b = String::new();
    let _ = writeln!(
        b,
        "<p>Figures of every modulus in <code>{}</code>.</p>\n<ul>",
        escape(source)
    );
    for (p, dir, n) in moduli {
        let _ = writeln!(
            b,
            "<li><a href=\"{d}/index.html\">p = {p}</a> ({n} figures, in <code>{d}/</code>)</li>",
            d = escape(dir)
        );
    }
    b.push_str("</ul>\n");
    page(title, &b)
}
