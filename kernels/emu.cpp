// Host emulation of the kernels in train_step.cu (feature `kernel-emu`, built by build.rs).
//
// Each launch runs its blocks one after another (z, then y, then x, ascending). Kernels without
// a barrier run their threads one after another; kernels with SYNC() run a block's threads as
// ucontext fibers: every round resumes each unfinished thread in index order until it reaches
// the next barrier or returns, so all threads pass each barrier together (a round where some
// threads return and others wait at a barrier aborts: that would be a divergent barrier). The
// kernel code is compiled unchanged from train_step.cu, so the emulation runs the kernels'
// own arithmetic and indexing on the host; tests compare it with the Rust twin bit for bit.

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <ucontext.h>

#include <functional>
#include <vector>

struct EmuThread {
  int tid, ntid;
  int ctaid[3], nctaid[3];
};

static EmuThread* emu_cur;
static void emu_sync();

#define MODADD_KERNEL_EMU 1
#include "train_step.cu"

namespace {

struct Fiber {
  ucontext_t ctx;
  EmuThread t;
  bool done;
};

ucontext_t sched_ctx;
std::vector<Fiber> fibers;
std::vector<char> stacks;
const std::function<void()>* body;
Fiber* cur_fiber;
const size_t STACK = 64 * 1024;

void fiber_entry() {
  (*body)();
  cur_fiber->done = true;  // returns to uc_link = sched_ctx
}

void run(unsigned gx, unsigned gy, unsigned gz, unsigned block, bool sync,
         const std::function<void()>& f) {
  body = &f;
  int nct[3] = {(int)gx, (int)gy, (int)gz};
  if (sync) {
    fibers.resize(block);
    stacks.resize(block * STACK);
  }
  for (unsigned z = 0; z < gz; ++z)
    for (unsigned y = 0; y < gy; ++y)
      for (unsigned x = 0; x < gx; ++x) {
        EmuThread base = {0, (int)block, {(int)x, (int)y, (int)z}, {nct[0], nct[1], nct[2]}};
        if (!sync) {
          for (unsigned t = 0; t < block; ++t) {
            EmuThread th = base;
            th.tid = (int)t;
            emu_cur = &th;
            f();
          }
          continue;
        }
        for (unsigned t = 0; t < block; ++t) {
          Fiber& fb = fibers[t];
          fb.t = base;
          fb.t.tid = (int)t;
          fb.done = false;
          getcontext(&fb.ctx);
          fb.ctx.uc_stack.ss_sp = &stacks[t * STACK];
          fb.ctx.uc_stack.ss_size = STACK;
          fb.ctx.uc_link = &sched_ctx;
          makecontext(&fb.ctx, fiber_entry, 0);
        }
        for (;;) {
          unsigned finished = 0, waiting = 0;
          for (unsigned t = 0; t < block; ++t) {
            Fiber& fb = fibers[t];
            if (fb.done) continue;
            cur_fiber = &fb;
            emu_cur = &fb.t;
            swapcontext(&sched_ctx, &fb.ctx);
            if (fb.done) ++finished; else ++waiting;
          }
          if (finished && waiting) {
            fprintf(stderr, "emu: divergent barrier (%u threads returned, %u wait)\n", finished, waiting);
            abort();
          }
          if (!waiting) break;
        }
      }
}

}  // namespace

static void emu_sync() { swapcontext(&cur_fiber->ctx, &sched_ctx); }

extern "C" {

void emu_first_layer(unsigned gx, unsigned gy, unsigned gz, unsigned block, const float* w_x,
                     const float* w_y, const u32* xs, const u32* ys, int rows, int width, int act,
                     float* a, float* dh) {
  run(gx, gy, gz, block, false, [&] { first_layer(w_x, w_y, xs, ys, rows, width, act, a, dh); });
}

void emu_gemm_f32(unsigned gx, unsigned gy, unsigned gz, unsigned block, int nr, int nc, int nk,
                  const float* a, i64 sai, i64 sak, const float* b, i64 sbk, i64 sbj, float* c,
                  i64 ldc, const float* d, int kchunk, i64 split_stride) {
  run(gx, gy, gz, block, true, [&] {
    gemm_f32(nr, nc, nk, a, sai, sak, b, sbk, sbj, c, ldc, d, kchunk, split_stride);
  });
}

void emu_gemm_f32_wide(unsigned gx, unsigned gy, unsigned gz, unsigned block, int nr, int nc,
                       int nk, const float* a, i64 sai, i64 sak, const float* b, i64 sbk,
                       i64 sbj, float* c, i64 ldc, const float* d, int kchunk, i64 split_stride) {
  run(gx, gy, gz, block, true, [&] {
    gemm_f32_wide(nr, nc, nk, a, sai, sak, b, sbk, sbj, c, ldc, d, kchunk, split_stride);
  });
}

void emu_sum_splits(unsigned gx, unsigned gy, unsigned gz, unsigned block, const float* ws,
                    int splits, i64 stride, i64 n, float* out) {
  run(gx, gy, gz, block, false, [&] { sum_splits(ws, splits, stride, n, out); });
}

void emu_loss_rows(unsigned gx, unsigned gy, unsigned gz, unsigned block, float* z, int rows,
                   int p, const u32* labels, const float* weight, const float* scale,
                   int loss_kind, int want_grad, double* row_loss, double* row_correct,
                   const float* parts, int splits, i64 stride) {
  run(gx, gy, gz, block, false, [&] {
    loss_rows(z, rows, p, labels, weight, scale, loss_kind, want_grad, row_loss, row_correct,
              parts, splits, stride);
  });
}

void emu_reduce2(unsigned gx, unsigned gy, unsigned gz, unsigned block, const double* x,
                 const double* y, int n, double* out, int accumulate) {
  run(gx, gy, gz, block, true, [&] { reduce2(x, y, n, out, accumulate); });
}

void emu_scatter_first(unsigned gx, unsigned gy, unsigned gz, unsigned block, const float* dh,
                       int width, const int* offs, const int* list, float* g) {
  run(gx, gy, gz, block, false, [&] { scatter_first(dh, width, offs, list, g); });
}

void emu_sgd_step(unsigned gx, unsigned gy, unsigned gz, unsigned block, float* w, const float* g,
                  i64 n, float lr, float wd, double* partial) {
  run(gx, gy, gz, block, true, [&] { sgd_step(w, g, n, lr, wd, partial); });
}

void emu_adamw_step(unsigned gx, unsigned gy, unsigned gz, unsigned block, float* w,
                    const float* g, float* m, float* v, i64 n, float decay, float b1, float b2,
                    float step, float bc2_sqrt, float eps, double* partial) {
  run(gx, gy, gz, block, true,
      [&] { adamw_step(w, g, m, v, n, decay, b1, b2, step, bc2_sqrt, eps, partial); });
}

}  // extern "C"
