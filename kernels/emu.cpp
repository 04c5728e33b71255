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
#include <string>
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

// Kernel launch as cuLaunchKernel takes it: args[i] points to the i-th parameter's value.
// Returns 0, or 1 for an unknown kernel name.
#define ARG(T, i) (*(T*)args[i])

extern "C" int emu_launch(const char* name, unsigned gx, unsigned gy, unsigned gz,
                          unsigned block, void** args) {
  std::string k(name);
  if (k == "first_layer") {
    run(gx, gy, gz, block, false, [&] {
      first_layer(ARG(const float*, 0), ARG(const float*, 1), ARG(const u32*, 2),
                  ARG(const u32*, 3), ARG(int, 4), ARG(int, 5), ARG(int, 6), ARG(float*, 7),
                  ARG(float*, 8));
    });
  } else if (k == "gemm_f32" || k == "gemm_f32_wide") {
    auto f = k == "gemm_f32" ? gemm_f32 : gemm_f32_wide;
    run(gx, gy, gz, block, true, [&] {
      f(ARG(int, 0), ARG(int, 1), ARG(int, 2), ARG(const float*, 3), ARG(i64, 4), ARG(i64, 5),
        ARG(const float*, 6), ARG(i64, 7), ARG(i64, 8), ARG(float*, 9), ARG(i64, 10),
        ARG(const float*, 11), ARG(int, 12), ARG(i64, 13));
    });
  } else if (k == "sum_splits") {
    run(gx, gy, gz, block, false, [&] {
      sum_splits(ARG(const float*, 0), ARG(int, 1), ARG(i64, 2), ARG(i64, 3), ARG(float*, 4));
    });
  } else if (k == "loss_rows") {
    run(gx, gy, gz, block, false, [&] {
      loss_rows(ARG(float*, 0), ARG(int, 1), ARG(int, 2), ARG(const u32*, 3),
                ARG(const float*, 4), ARG(const float*, 5), ARG(int, 6), ARG(int, 7),
                ARG(double*, 8), ARG(double*, 9), ARG(const float*, 10), ARG(int, 11),
                ARG(i64, 12));
    });
  } else if (k == "reduce2") {
    run(gx, gy, gz, block, true, [&] {
      reduce2(ARG(const double*, 0), ARG(const double*, 1), ARG(int, 2), ARG(double*, 3),
              ARG(int, 4));
    });
  } else if (k == "scatter_first") {
    run(gx, gy, gz, block, false, [&] {
      scatter_first(ARG(const float*, 0), ARG(int, 1), ARG(const int*, 2), ARG(const int*, 3),
                    ARG(float*, 4));
    });
  } else if (k == "sgd_step") {
    run(gx, gy, gz, block, true, [&] {
      sgd_step(ARG(float*, 0), ARG(const float*, 1), ARG(i64, 2), ARG(float, 3), ARG(float, 4),
               ARG(double*, 5));
    });
  } else if (k == "adamw_step") {
    run(gx, gy, gz, block, true, [&] {
      adamw_step(ARG(float*, 0), ARG(const float*, 1), ARG(float*, 2), ARG(float*, 3),
                 ARG(i64, 4), ARG(float, 5), ARG(float, 6), ARG(float, 7), ARG(float, 8),
                 ARG(float, 9), ARG(float, 10), ARG(double*, 11));
    });
  } else {
    return 1;
  }
  return 0;
}
