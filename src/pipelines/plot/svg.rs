//! The SVG document a figure is drawn into: plotters' SVG backend, plus groups we control.
//!
//! [`Canvas`] owns the growing SVG body. Its [`Canvas::area`] is a plotters drawing area on
//! [`GroupedSvg`], a backend that lets plotters' own `SVGBackend` format every primitive (lines,
//! rectangles, polylines, circles, text) and appends the element to the body. Between plotters
//! calls, [`Canvas::begin`] / [`Canvas::end`] wrap what follows in a `<g>` with our attributes, and
//! [`Canvas::raw`] writes elements directly (heatmap cells at sub-pixel positions, which plotters'
//! integer pixel coordinates cannot place). Every drawn data mark sits in a
//! `<g class="marks" data-kind=".." data-series=".." data-n="N">` group, where N is the number of
//! data points, cells or bars drawn, so tests (and readers of the SVG) can check the marks against
//! the CSV rows. Text needs no font files: the SVG backend writes `<text>` elements and the
//! viewer picks the font; plotters only estimates text extents (its built-in naive font metrics).

use plotters::backend::SVGBackend;
use plotters::coord::Shift;
use plotters::prelude::{DrawingArea, IntoDrawingArea};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
};
use std::cell::RefCell;
use std::fmt::Write as _;
use std::rc::Rc;

#[derive(Debug, Default)]
struct Doc {
    body: String,
    open: usize,
}

/// A plotters backend appending SVG elements to a shared [`Canvas`] body.
#[derive(Debug)]
pub struct GroupedSvg {
    doc: Rc<RefCell<Doc>>,
    size: (u32, u32),
}

/// The error type of [`GroupedSvg`] (that of plotters' SVG backend).
pub type SvgError = std::io::Error;

impl GroupedSvg {
    /// Lets plotters' SVG backend format one primitive, then appends it without the `<svg>` frame.
    fn with<F>(&mut self, f: F) -> Result<(), DrawingErrorKind<SvgError>>
    where
        F: FnOnce(&mut SVGBackend<'_>) -> Result<(), DrawingErrorKind<SvgError>>,
    {
        let mut s = String::new();
        {
            let mut b = SVGBackend::with_string(&mut s, self.size);
            f(&mut b)?;
            b.present()?;
        }
        let start = s.find('\n').map_or(s.len(), |i| i + 1);
        let end = s.rfind("</svg>").unwrap_or(s.len());
        if start < end {
            self.doc.borrow_mut().body.push_str(&s[start..end]);
        }
        Ok(())
    }
}

impl DrawingBackend for GroupedSvg {
    type ErrorType = SvgError;

    fn get_size(&self) -> (u32, u32) {
        self.size
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<SvgError>> {
        Ok(())
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<SvgError>> {
        Ok(())
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<SvgError>> {
        self.with(|b| b.draw_pixel(point, color))
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<SvgError>> {
        self.with(|b| b.draw_line(from, to, style))
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<SvgError>> {
        self.with(|b| b.draw_rect(upper_left, bottom_right, style, fill))
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<SvgError>> {
        self.with(|b| b.draw_path(path, style))
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<SvgError>> {
        self.with(|b| b.draw_circle(center, radius, style, fill))
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<SvgError>> {
        self.with(|b| b.fill_polygon(vert, style))
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<SvgError>> {
        self.with(|b| b.draw_text(text, style, pos))
    }
}

/// A plotters drawing area on a [`Canvas`].
pub type Area = DrawingArea<GroupedSvg, Shift>;

/// One SVG document being drawn.
#[derive(Debug, Clone)]
pub struct Canvas {
    doc: Rc<RefCell<Doc>>,
    size: (u32, u32),
}

impl Canvas {
    /// An empty canvas of `width` x `height` pixels.
    pub fn new(width: u32, height: u32) -> Canvas {
        Canvas {
            doc: Rc::new(RefCell::new(Doc::default())),
            size: (width, height),
        }
    }

    /// The whole canvas as a plotters drawing area.
    pub fn area(&self) -> Area {
        GroupedSvg {
            doc: self.doc.clone(),
            size: self.size,
        }
        .into_drawing_area()
    }

    /// Opens `<g class="class" k="v" ...>`; everything drawn until [`Canvas::end`] goes inside.
    pub fn begin(&self, class: &str, attrs: &[(&str, String)]) {
        let mut d = self.doc.borrow_mut();
        let _ = write!(d.body, "<g class=\"{}\"", escape(class));
        for (k, v) in attrs {
            let _ = write!(d.body, " {k}=\"{}\"", escape(v));
        }
        d.body.push_str(">\n");
        d.open += 1;
    }

    /// Closes the innermost group opened by [`Canvas::begin`].
    pub fn end(&self) {
        let mut d = self.doc.borrow_mut();
        if d.open > 0 {
            d.body.push_str("</g>\n");
            d.open -= 1;
        }
    }

    /// Appends SVG text as it is (the caller escapes).
    pub fn raw(&self, svg: &str) {
        self.doc.borrow_mut().body.push_str(svg);
    }

    /// The finished document: `<svg>` with a `<title>` and a `<desc>`, then the body.
    pub fn finish(&self, title: &str, desc: &str) -> String {
        let d = self.doc.borrow();
        let mut s = String::with_capacity(d.body.len() + 512);
        let _ = write!(
            s,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\">\n<title>{}</title>\n<desc>{}</desc>\n",
            escape(title),
            escape(desc),
            w = self.size.0,
            h = self.size.1,
        );
        s.push_str(&d.body);
        for _ in 0..d.open {
            s.push_str("</g>\n");
        }
        s.push_str("</svg>\n");
        s
    }
}

/// Escapes text for an XML attribute or text node.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c => o.push(c),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use plotters::prelude::*;

    #[test]
    fn plotters_elements_land_in_our_groups() {
        let c = Canvas::new(200, 100);
        let area = c.area();
        area.fill(&WHITE).unwrap();
        c.begin("marks", &[("data-n", "3".into())]);
        area.draw(&PathElement::new(vec![(1, 2), (3, 4), (5, 6)], BLACK))
            .unwrap();
        c.end();
        area.draw(&Text::new("a<b", (10, 10), ("sans-serif", 12)))
            .unwrap();
        let s = c.finish("t & t", "d");
        let doc = roxmltree::Document::parse(&s).unwrap();
        let g = doc
            .descendants()
            .find(|n| n.attribute("class") == Some("marks"))
            .unwrap();
        let line = g.children().find(|n| n.is_element()).unwrap();
        assert_eq!(line.tag_name().name(), "polyline");
        assert_eq!(
            line.attribute("points").unwrap().split_whitespace().count(),
            3
        );
        let text = doc
            .descendants()
            .find(|n| n.tag_name().name() == "text")
            .unwrap();
        assert_eq!(text.text().unwrap().trim(), "a<b");
    }
}
