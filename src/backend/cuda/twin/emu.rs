//! The kernels of `kernels/train_step.cu` compiled for the host (`kernels/emu.cpp`, built by
//! `build.rs` with the feature `kernel-emu`), called with the device's launch geometry
//! ([`super::super::geom`]) on the twin's buffers.

use super::super::geom::{self, Launch};
use super::super::{AdamScalars, At, Buf, GemmCall, Sel};
use super::HostKernels;
use crate::error::Result;

#[allow(clippy::too_many_arguments)]
extern "C" {
    fn emu_first_layer(
        gx: u32,
        gy: u32,
        gz: u32,
        block: u32,
        w_x: *const f32,
        w_y: *const f32,
        xs: *const u32,
        ys: *const u32,
        rows: i32,
        width: i32,
        act: i32,
        a: *mut f32,
        dh: *mut f32,
    );
    fn emu_gemm_f32(
        gx: u32,
        gy: u32,
        gz: u32,
        block: u32,
        nr: i32,
        nc: i32,
        nk: i32,
        a: *const f32,
        sai: i64,
        sak: i64,
        b: *const f32,
        sbk: i64,
        sbj: i64,
        c: *mut f32,
        ldc: i64,
        d: *const f32,
        kchunk: i32,
        split_stride: i64,
    );
    fn emu_gemm_f32_wide(
        gx: u32,
        gy: u32,
        gz: u32,
        block: u32,
        nr: i32,
        nc: i32,
        nk: i32,
        a: *const f32,
        sai: i64,
        sak: i64,
        b: *const f32,
        sbk: i64,
        sbj: i64,
        c: *mut f32,
        ldc: i64,
        d: *const f32,
        kchunk: i32,
        split_stride: i64,
    );
    fn emu_sum_splits(
        gx: u32,
        gy: u32,
        gz: u32,
        block: u32,
        ws: *const f32,
        splits: i32,
        stride: i64,
        n: i64,
        out: *mut f32,
    );
    fn emu_loss_rows(
        gx: u32,
        gy: u32,
        gz: u32,
        block: u32,
        z: *mut f32,
        rows: i32,
        p: i32,
        labels: *const u32,
        weight: *const f32,
        scale: *const f32,
        loss_kind: i32,
        want_grad: i32,
        row_loss: *mut f64,
        row_correct: *mut f64,
        parts: *const f32,
        splits: i32,
        stride: i64,
    );
    fn emu_reduce2(
        gx: u32,
        gy: u32,
        gz: u32,
        block: u32,
        x: *const f64,
        y: *const f64,
        n: i32,
        out: *mut f64,
        accumulate: i32,
    );
    fn emu_scatter_first(
        gx: u32,
        gy: u32,
        gz: u32,
        block: u32,
        dh: *const f32,
        width: i32,
        offs: *const i32,
        list: *const i32,
        g: *mut f32,
    );
    fn emu_sgd_step(
        gx: u32,
        gy: u32,
        gz: u32,
        block: u32,
        w: *mut f32,
        g: *const f32,
        n: i64,
        lr: f32,
        wd: f32,
        partial: *mut f64,
    );
    fn emu_adamw_step(
        gx: u32,
        gy: u32,
        gz: u32,
        block: u32,
        w: *mut f32,
        g: *const f32,
        m: *mut f32,
        v: *mut f32,
        n: i64,
        decay: f32,
        b1: f32,
        b2: f32,
        step: f32,
        bc2_sqrt: f32,
        eps: f32,
        partial: *mut f64,
    );
}

impl HostKernels {
    fn q32(&mut self, a: At) -> *mut f32 {
        let b = self.f32_buf_mut(a.buf);
        assert!(a.off < b.len(), "{a:?} outside its buffer");
        b[a.off..].as_mut_ptr()
    }

    fn q64(&mut self, a: At) -> *mut f64 {
        let b = match a.buf {
            Buf::RowLoss => &mut self.row_loss,
            Buf::RowCorrect => &mut self.row_correct,
            Buf::Partial => &mut self.partial,
            Buf::Stats => &mut self.stats,
            other => panic!("{other:?} is not an f64 buffer"),
        };
        assert!(a.off < b.len(), "{a:?} outside its buffer");
        b[a.off..].as_mut_ptr()
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn emu_first_layer(
        &mut self,
        w_x: At,
        w_y: At,
        sel: Sel,
        rows: usize,
        width: usize,
        act: i32,
        with_dh: bool,
    ) -> Result<()> {
        let ([gx, gy, gz], block): Launch = geom::first_layer(rows, width);
        let (px, py) = (self.q32(w_x), self.q32(w_y));
        let a = self.act.as_mut_ptr();
        let dh = if with_dh {
            self.dh.as_mut_ptr()
        } else {
            std::ptr::null_mut()
        };
        let b = self.batch(sel);
        // SAFETY: every pointer addresses a live buffer sized by the layout the kernel assumes.
        unsafe {
            emu_first_layer(
                gx,
                gy,
                gz,
                block,
                px,
                py,
                b.x.as_ptr(),
                b.y.as_ptr(),
                rows as i32,
                width as i32,
                act,
                a,
                dh,
            )
        };
        Ok(())
    }

    pub(super) fn emu_gemm(&mut self, c: &GemmCall) -> Result<()> {
        let ([gx, gy, gz], block) = geom::gemm(c);
        let (a, b, out) = (self.q32(c.a), self.q32(c.b), self.q32(c.c));
        let d = if c.scale_by_c {
            out
        } else {
            std::ptr::null_mut()
        };
        let launch = if c.tile() == 128 {
            emu_gemm_f32_wide
        } else {
            emu_gemm_f32
        };
        // SAFETY: as above; C may alias D by the kernel's contract.
        unsafe {
            launch(
                gx,
                gy,
                gz,
                block,
                c.nr as i32,
                c.nc as i32,
                c.nk as i32,
                a,
                c.sai as i64,
                c.sak as i64,
                b,
                c.sbk as i64,
                c.sbj as i64,
                out,
                c.ldc as i64,
                d,
                c.kchunk as i32,
                c.split_stride as i64,
            )
        };
        Ok(())
    }

    pub(super) fn emu_sum_splits(
        &mut self,
        ws: At,
        splits: usize,
        stride: usize,
        n: usize,
        out: At,
    ) -> Result<()> {
        let ([gx, gy, gz], block) = geom::sum_splits(n);
        let (w, o) = (self.q32(ws), self.q32(out));
        // SAFETY: as above.
        unsafe {
            emu_sum_splits(
                gx,
                gy,
                gz,
                block,
                w,
                splits as i32,
                stride as i64,
                n as i64,
                o,
            )
        };
        Ok(())
    }

    pub(super) fn emu_loss_rows(
        &mut self,
        sel: Sel,
        rows: usize,
        p: usize,
        kind: i32,
        want_grad: bool,
        parts: Option<(At, usize, usize)>,
    ) -> Result<()> {
        let ([gx, gy, gz], block) = geom::loss_rows(rows);
        let (pp, splits, stride) = match parts {
            Some((ws, s, st)) => (self.q32(ws) as *const f32, s as i32, st as i64),
            None => (std::ptr::null(), 1, 0),
        };
        let z = self.z.as_mut_ptr();
        let (rl, rc) = (self.row_loss.as_mut_ptr(), self.row_correct.as_mut_ptr());
        let b = self.batch(sel);
        // SAFETY: as above.
        unsafe {
            emu_loss_rows(
                gx,
                gy,
                gz,
                block,
                z,
                rows as i32,
                p as i32,
                b.label.as_ptr(),
                b.weight.as_ptr(),
                b.scale.as_ptr(),
                kind,
                want_grad as i32,
                rl,
                rc,
                pp,
                splits,
                stride,
            )
        };
        Ok(())
    }

    pub(super) fn emu_reduce2(&mut self, x: At, y: At, n: usize, out: At) -> Result<()> {
        let ([gx, gy, gz], block) = geom::reduce2();
        let (px, py, po) = (self.q64(x), self.q64(y), self.q64(out));
        // SAFETY: as above.
        unsafe { emu_reduce2(gx, gy, gz, block, px, py, n as i32, po, 0) };
        Ok(())
    }

    pub(super) fn emu_scatter_first(
        &mut self,
        list: usize,
        width: usize,
        p: usize,
        g: At,
    ) -> Result<()> {
        let ([gx, gy, gz], block) = geom::scatter_first(width, p);
        let pg = self.q32(g);
        let dh = self.dh.as_ptr();
        let (offs, rows) = &self.train.lists[list];
        // SAFETY: as above.
        unsafe {
            emu_scatter_first(
                gx,
                gy,
                gz,
                block,
                dh,
                width as i32,
                offs.as_ptr(),
                rows.as_ptr(),
                pg,
            )
        };
        Ok(())
    }

    pub(super) fn emu_sgd_step(&mut self, n: usize, lr: f32, wd: f32) -> Result<()> {
        let ([gx, gy, gz], block) = geom::optimizer();
        let (w, g, part) = (
            self.params.as_mut_ptr(),
            self.grads.as_ptr(),
            self.partial.as_mut_ptr(),
        );
        // SAFETY: as above.
        unsafe { emu_sgd_step(gx, gy, gz, block, w, g, n as i64, lr, wd, part) };
        Ok(())
    }

    pub(super) fn emu_adamw_step(&mut self, n: usize, s: AdamScalars) -> Result<()> {
        let ([gx, gy, gz], block) = geom::optimizer();
        let (w, g, m, v, part) = (
            self.params.as_mut_ptr(),
            self.grads.as_ptr(),
            self.adam_m.as_mut_ptr(),
            self.adam_v.as_mut_ptr(),
            self.partial.as_mut_ptr(),
        );
        // SAFETY: as above.
        unsafe {
            emu_adamw_step(
                gx, gy, gz, block, w, g, m, v, n as i64, s.decay, s.b1, s.b2, s.step, s.bc2_sqrt,
                s.eps, part,
            )
        };
        Ok(())
    }
}
